"""Two servers, two RQ workers and two schedulers on one PostgreSQL and one Redis: nothing twice.

The production shape of SPEC section 1, on loopback: two gunicorn servers (2
workers each, BILLFOLD_ENV=production) on their own ports, two `python
worker.py` processes, a real SMTP server. Through both servers at once, over
real HTTP with cookies and the forms' CSRF tokens, a client pays one proforma
from the wallet many times and tops the wallet up by card (one form sent twice,
to each server); meanwhile the billing run is started by both hosts' schedulers
(what `rq cron app/cron.py` enqueues) and by `flask billing run` on both.
"""

from __future__ import annotations

import email
import html.parser
import http.client
import http.cookies
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from rq.cron import CronScheduler

from app.core.dates import today
from app.core.queue import get_queue
from app.extensions import db
from app.invoices.models import DocumentKind, Invoice, InvoiceStatus, ServiceRenewal
from app.notify.models import EmailMessage, MessageStatus
from app.wallet.models import EntryKind, LedgerEntry
from app.wallet.services import balance_mismatches
from tests.conftest import make_app, unavailable
from tests.factories import OWNER_EMAIL, OWNER_PASSWORD
from tests.helpers import balance, credit, make_owner, make_proforma, make_service

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.postgresql, pytest.mark.redis]

PAYERS = 8  # requests paying the same proforma, half through each server
TOP_UPS = 4  # card top-up forms; the last one is sent twice
TOP_UP_MINOR = 10000  # the add-funds form's default preset (100.00)


# --- processes ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def production_env(database_url: str, redis_url: str, smtp_server) -> dict:
    env = {
        **os.environ,
        "BILLFOLD_ENV": "production",
        "SECRET_KEY": "two-servers-secret",  # one key on every host: a session works on both
        "SERVER_NAME": "billing.example.test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MAIL_BACKEND": "smtp",
        "MAIL_SERVER": smtp_server.hostname,
        "MAIL_PORT": str(smtp_server.port),
        "ALLOW_TEST_GATEWAY": "1",
        "VAT_CHECKER": "offline",
    }
    for name in ("RQ_QUEUE", "RQ_QUEUE_BILLING", "RATELIMIT_STORAGE_URI", "DATABASE_PGBOUNCER"):
        env.pop(name, None)
    return env


class Processes:
    """Child processes started for one test; each is stopped (SIGTERM, then SIGKILL) at the end."""

    def __init__(self, env: dict, logs: Path) -> None:
        self.env = env
        self.logs = logs  # a file per process: a pipe nobody reads would block a chatty one
        self.running: list[tuple[str, subprocess.Popen, Path]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = self.logs / f"{len(self.running)}.log"
        with log.open("w") as out:
            process = subprocess.Popen(  # our interpreter, our arguments
                [sys.executable, *args], cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        self.running.append((name, process, log))
        return process

    def gunicorn(self, port: int) -> None:
        self.start(
            f"gunicorn :{port}",
            *("-m", "gunicorn", "app:create_app()", "--workers", "2", "--bind", f"127.0.0.1:{port}"),
            *("--log-level", "warning"),
        )

    def stop(self) -> str:
        """Stop everything; returns what each process wrote (for a failure's message)."""
        for _, process, _ in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        logs = []
        for name, process, log in self.running:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            logs.append(f"--- {name} (exit {process.returncode})\n{log.read_text()[-3000:]}")
        return "\n".join(logs)


def wait_ready(port: int, processes: Processes, seconds: float = 45) -> None:
    """Until /readyz answers 200 (the database and Redis reachable from the server)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if Browser(port).get("/readyz").status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    unavailable(f"gunicorn on port {port} did not become ready:\n{processes.stop()}")


# --- a small browser: cookies by hand (production cookies are Secure), forms parsed -----


class Response:
    def __init__(self, status: int, headers, body: str) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")


class Browser:
    """One browser talking to one server: keeps its cookies, sends form posts."""

    def __init__(self, port: int, cookies: dict | None = None) -> None:
        self.port = port
        self.cookies = dict(cookies or {})

    def request(self, method: str, path: str, fields: list[tuple[str, str]] | None = None) -> Response:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if fields is not None:
            body = urllib.parse.urlencode(fields)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            raw = conn.getresponse()
            text = raw.read().decode()
        finally:
            conn.close()
        for header in raw.headers.get_all("Set-Cookie") or []:
            for name, morsel in http.cookies.SimpleCookie(header).items():
                if (morsel["expires"] and "1970" in morsel["expires"]) or morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Response(raw.status, raw.headers, text)

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def form(self, path: str, form_id: str) -> list[tuple[str, str]]:
        """The fields the browser would send with the form `form_id` of the page at `path`."""
        page = self.get(path)
        assert page.status == 200, (path, page.status, page.location)
        parser = FormFields(form_id)
        parser.feed(page.body)
        assert parser.fields, f"no form #{form_id} on {path}"
        return parser.fields


class FormFields(html.parser.HTMLParser):
    """The successful controls of one form: inputs, checked boxes and radios, selected options."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside or ("name" not in a and tag != "option"):
            return
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind not in ("submit", "button", "file"):
                self.fields.append((a["name"], a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select":
            self._select, self._options = a["name"], []
        elif tag == "option" and self._select:
            self._options.append((a.get("value", ""), "selected" in a))

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        if tag == "select" and self._select:
            chosen = [v for v, selected in self._options if selected] or [v for v, _ in self._options[:1]]
            self.fields.extend((self._select, v) for v in chosen)
            self._select = None


def with_values(fields: list[tuple[str, str]], **values: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in fields if k not in values] + list(values.items())


# --- the test -------------------------------------------------------------------------


@pytest.fixture
def shared_database(pg_available, pg_database) -> str:
    info = pg_database.info
    return f"postgresql+psycopg://{info.user}:{info.password}@{info.host}:{info.port}/{info.dbname}"


def test_two_servers_pay_credit_bill_and_mail_everything_once(shared_database, redis_url, smtp_server, tmp_path):
    setup = make_app(shared_database, REDIS_URL=None)
    owner = make_owner(setup)
    renewing = [owner, *(make_owner(setup, email=f"renewing{i}@example.com") for i in range(2))]
    for account in renewing:
        make_service(setup, account.client_id, due=today() + timedelta(days=7))
    number = make_proforma(setup, owner.client_id, 10000)  # 121.00 with VAT
    credit(setup, owner.client_id, 15000)
    with setup.app_context():
        proforma_id = db.session.scalar(sa.select(Invoice.id).where(Invoice.number == number))
        emails_before = db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(EmailMessage.id), 0)))

    processes = Processes(production_env(shared_database, redis_url, smtp_server), tmp_path)
    ports = [free_port(), free_port()]
    try:
        for port in ports:
            processes.gunicorn(port)
        for i in range(2):
            processes.start(f"worker {i}", "worker.py")
        for port in ports:
            wait_ready(port, processes)
        failures = drive_both_servers(ports, number, processes)
        failures += wait_until_settled(shared_database, redis_url)
    finally:
        logs = processes.stop()
    assert failures == [], f"{failures}\n{logs}"

    with setup.app_context():
        # The proforma is paid once: one payment entry, one tax invoice.
        assert db.session.get(Invoice, proforma_id).status is InvoiceStatus.PAID
        payments = db.session.scalars(sa.select(LedgerEntry).where(LedgerEntry.kind == EntryKind.INVOICE_PAYMENT))
        assert [(e.client_id, e.amount_minor) for e in payments] == [(owner.client_id, -12100)]
        assert db.session.scalar(sa.select(sa.func.count()).where(Invoice.kind == DocumentKind.TAX_INVOICE)) == 1
        # Each top-up form credited exactly once (the one sent to both servers too).
        top_ups = db.session.scalars(sa.select(LedgerEntry.amount_minor).where(LedgerEntry.kind == EntryKind.TOP_UP))
        assert list(top_ups) == [TOP_UP_MINOR] * TOP_UPS
        assert balance_mismatches() == []
        # One renewal proforma per renewing client, however many runs were started.
        renewals = db.session.scalars(
            sa.select(Invoice.client_id).where(Invoice.origin == "renewal").order_by(Invoice.client_id)
        )
        assert list(renewals) == sorted(a.client_id for a in renewing)
        assert db.session.scalar(sa.select(sa.func.count(ServiceRenewal.id))) == len(renewing)
        # Every email written meanwhile was sent, and the mail server got each one once.
        sent = db.session.scalars(sa.select(EmailMessage).where(EmailMessage.id > emails_before)).all()
        assert sent and {m.status for m in sent} == {MessageStatus.SENT}
    assert balance(setup, owner.client_id) == 15000 - 12100 + TOP_UP_MINOR * TOP_UPS
    received = [email.message_from_bytes(m.original_content)["Message-ID"] for m in smtp_server.handler.messages]
    ours = [mid for mid in received if int(mid.split("-")[1].split("@")[0]) > emails_before]
    assert len(ours) == len(set(ours)) == len(sent), received


def drive_both_servers(ports: list[int], number: str, processes: Processes) -> list:
    """Everything at once, through both servers; returns what went wrong (a 5xx, an exception)."""
    signed_in = Browser(ports[0])
    fields = signed_in.form("/login", "login-form")
    response = signed_in.request("POST", "/login", with_values(fields, email=OWNER_EMAIL, password=OWNER_PASSWORD))
    assert response.status in (302, 303), (response.status, response.body[-500:])
    # One sign-in used on both servers (same SECRET_KEY; the session record is in the shared database).
    payers = [Browser(ports[i % 2], signed_in.cookies) for i in range(PAYERS)]
    top_ups = [Browser(ports[i % 2], signed_in.cookies) for i in range(TOP_UPS)]

    posts = []
    for browser in payers:
        form = browser.form(f"/invoices/pay?invoice={number}", "pay-form")
        posts.append((browser, "/invoices/pay", with_values(form, use_balance="y")))
    card = {"number": "4242424242424242", "exp_month": "12", "exp_year": "39", "cvc": "123"}
    for browser in top_ups:
        form = with_values(browser.form("/wallet/add-funds", "add-funds-form"), **card)
        posts.append((browser, "/wallet/add-funds", form))
    # The last top-up form sent once more, to the other server (a double click): credited once.
    # (Its browser's cookies: the form's CSRF token belongs to that session.)
    other_server = Browser(ports[TOP_UPS % 2], top_ups[-1].cookies)
    posts.append((other_server, "/wallet/add-funds", posts[-1][2]))

    failures: list = []
    answers: list[tuple[str, int, str]] = []
    barrier = threading.Barrier(len(posts) + 3)

    def post(browser: Browser, path: str, fields) -> None:
        barrier.wait()
        try:
            answer = browser.request("POST", path, fields)
            answers.append((path, answer.status, answer.location))
            if answer.status >= 500 or answer.status == 400:
                failures.append((path, browser.port, answer.status, answer.body[-300:]))
        except Exception as error:  # a connection reset is a failure too
            failures.append((path, browser.port, repr(error)))

    def schedulers() -> None:
        """What `rq cron app/cron.py` on each of two hosts enqueues at the same minute."""
        setup = make_app(processes.env["DATABASE_URL"], REDIS_URL=processes.env["REDIS_URL"])
        barrier.wait()
        with setup.app_context():
            queue = get_queue()
            for _host in range(2):
                cron = CronScheduler(connection=queue.connection)
                cron.load_config_from_file("app/cron.py")
                for cron_job in cron._cron_jobs:
                    cron_job.enqueue(queue.connection)

    def billing_cli(result: list) -> None:
        barrier.wait()
        run = subprocess.run(  # an operator's `flask billing run`, on each host
            [sys.executable, "-m", "flask", "--app", "app", "billing", "run"],
            cwd=ROOT,
            env=processes.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        result.append(run)

    cli_runs: list = []
    threads = [threading.Thread(target=post, args=p) for p in posts]
    threads += [threading.Thread(target=schedulers)]
    threads += [threading.Thread(target=billing_cli, args=(cli_runs,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    failures += [(run.args, run.returncode, run.stderr[-500:]) for run in cli_runs if run.returncode != 0]
    # One payment went through (to its tax invoice's page); the others were told it was paid.
    paid = [a for a in answers if a[0] == "/invoices/pay" and a[1] in (302, 303) and a[2].startswith("/invoices/")]
    if len(paid) != 1 or len([a for a in answers if a[0] == "/invoices/pay"]) != PAYERS:
        failures.append(("not exactly one payment", answers))
    return failures


def settled(app) -> bool:
    """No job waiting or running, no email queued."""
    queue = get_queue(app)
    queued = db.session.scalar(
        sa.select(sa.func.count(EmailMessage.id)).where(EmailMessage.status == MessageStatus.QUEUED)
    )
    db.session.rollback()
    return queue.count + queue.started_job_registry.count + queued == 0


def wait_until_settled(shared_database: str, redis_url: str, seconds: float = 40) -> list:
    """Until the workers have run every job and sent every email (twice in a row, a moment
    apart: a billing run writes emails as it goes). Returns the failed jobs."""
    app = make_app(shared_database, REDIS_URL=redis_url)
    deadline = time.monotonic() + seconds
    with app.app_context():
        calm = 0
        while time.monotonic() < deadline and calm < 2:
            calm = calm + 1 if settled(app) else 0
            time.sleep(0.5)
        registry = get_queue(app).failed_job_registry
        return [("job failed", job_id) for job_id in registry.get_job_ids()] + (
            [] if calm >= 2 else [("not settled after", seconds)]
        )
