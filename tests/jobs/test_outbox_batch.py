"""Emails sent in batches over one reused SMTP connection: claims in one statement,
outcomes per message, and two workers that never send the same message."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.core.queue import get_queue
from app.extensions import db
from app.notify import smtp
from app.notify.jobs import send_email_batch
from app.notify.models import EmailMessage, MessageStatus
from tests.conftest import smtp_config

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.app_config(smtp=True)


def write_emails(app, addresses: list[str]) -> list[int]:
    """Outbox rows for `addresses`, committed together (as the billing run writes them)."""
    with app.app_context():
        rows = [
            EmailMessage(
                recipients=[address],
                template="welcome",
                subject=f"Hello {address}",
                body_text="Plain text",
                body_html="<p>HTML</p>",
            )
            for address in addresses
        ]
        db.session.add_all(rows)
        db.session.commit()
        return [row.id for row in rows]


def statuses(app) -> dict[int, tuple[str, int]]:
    with app.app_context():
        return {
            i: (status.value, attempts)
            for i, status, attempts in db.session.execute(
                sa.select(EmailMessage.id, EmailMessage.status, EmailMessage.attempts)
            )
        }


@pytest.fixture
def hold(monkeypatch):
    """Commits hand nothing to the queue: the test runs the batch job itself."""
    monkeypatch.setattr("app.core.queue.enqueue", lambda path, *args: True)


def test_a_batch_sends_every_due_email_once_over_one_connection(app, smtp_server, hold):
    ids = write_emails(app, [f"c{n}@example.com" for n in range(5)])
    smtp.close_connections()
    with app.app_context():
        assert send_email_batch(ids[0], ids[-1]) == {"sent": 5}
        assert smtp.connection().sent == 5, "one connection carried the five messages"
        assert send_email_batch(ids[0], ids[-1]) == {}, "a second run finds nothing due"
    received = smtp_server.handler.messages
    assert sorted(m.rcpt_tos[0] for m in received) == sorted(f"c{n}@example.com" for n in range(5))
    ids_at_smtp = [re.search(rb"Message-ID: <outbox-(\d+)@", m.content).group(1) for m in received]
    assert sorted(int(i) for i in ids_at_smtp) == ids
    assert set(statuses(app).values()) == {("sent", 1)}


def test_a_refused_recipient_fails_and_the_rest_go_on_the_same_connection(app, smtp_server, hold):
    smtp_server.handler.refuse = {"gone@example.com"}
    ids = write_emails(app, ["a@example.com", "gone@example.com", "b@example.com"])
    smtp.close_connections()
    with app.app_context():
        assert send_email_batch(ids[0], ids[-1]) == {"sent": 2, "failed": 1}
        assert smtp.connection().sent == 2 and smtp.connection().smtp is not None, "kept after the refusal"
    assert [m.rcpt_tos for m in smtp_server.handler.messages] == [["a@example.com"], ["b@example.com"]]
    assert statuses(app) == {ids[0]: ("sent", 1), ids[1]: ("failed", 1), ids[2]: ("sent", 1)}


def test_with_the_server_down_every_message_waits_one_attempt(app, smtp_server, hold):
    ids = write_emails(app, ["a@example.com", "b@example.com"])
    smtp_server.stop()
    with app.app_context():
        assert send_email_batch(ids[0], ids[-1]) == {"retry": 2}
        rows = db.session.scalars(sa.select(EmailMessage)).all()
        assert all("ConnectionRefusedError" in m.last_error and m.next_attempt_at is not None for m in rows)
        assert send_email_batch(ids[0], ids[-1]) == {}, "the backoff holds"
    assert set(statuses(app).values()) == {("queued", 1)}


def test_a_connection_the_server_dropped_is_replaced(app, smtp_server, hold):
    first = write_emails(app, ["a@example.com"])[0]
    with app.app_context():
        assert send_email_batch(first, first) == {"sent": 1}
    smtp_server.stop()  # the server closes its sessions (a restart)
    smtp_server.start()
    second = write_emails(app, ["b@example.com"])[0]
    with app.app_context():
        assert send_email_batch(second, second) == {"sent": 1}
    assert [m.rcpt_tos for m in smtp_server.handler.messages] == [["a@example.com"], ["b@example.com"]]


def test_the_connection_is_closed_after_its_quota_and_forgotten_in_a_forked_child(app, smtp_server, hold):
    app.config["MAIL_CONNECTION_MAX_MESSAGES"] = 2
    ids = write_emails(app, ["a@example.com", "b@example.com", "c@example.com"])
    smtp.close_connections()
    with app.app_context():
        assert send_email_batch(ids[0], ids[-1]) == {"sent": 3}
    held = smtp.connection()
    assert held.smtp is not None and held.sent == 1, "a new connection after two messages"
    pid = os.fork()
    if pid == 0:  # the child must not talk on its parent's session
        os._exit(0 if smtp.connection().smtp is None and smtp.connection() is not held else 1)
    assert os.waitpid(pid, 0)[1] == 0
    assert held.smtp is not None, "the parent keeps its own"
    smtp.close_connections()
    assert held.smtp is None


def test_the_pay_invoice_check_cancels_in_the_batch_too(app, smtp_server, hold):
    from datetime import date

    from app.billing.run import run_billing
    from tests.helpers import make_owner, make_service, pay

    owner = make_owner(app)
    make_service(app, owner.client_id, due=date(2026, 12, 10))
    smtp_server.stop()
    with app.app_context():
        [proforma_id] = run_billing(date(2026, 12, 1)).proforma_ids
        from app.invoices.models import Invoice

        number = db.session.get(Invoice, proforma_id).number
        mail_id = db.session.scalar(sa.select(EmailMessage.id).where(EmailMessage.pay_invoice_id == proforma_id))
    pay(app, number)
    smtp_server.start()
    with app.app_context():
        assert send_email_batch(mail_id, mail_id) == {"cancelled": 1}
        assert db.session.get(EmailMessage, mail_id).status is MessageStatus.CANCELLED


# --- on real Redis, with `python worker.py` processes ------------------------------------


@pytest.fixture
def redis_app(database_url, redis_url, smtp_server):
    from tests.conftest import make_app

    app = make_app(
        database_url,
        **smtp_config(smtp_server),
        REDIS_URL=redis_url,
        RQ_QUEUE_MAIL="test-mail",
        RQ_QUEUE_SMS="test-sms",
        OUTBOX_BATCH=50,
    )
    yield app
    with app.app_context():
        db.engine.dispose()


def start_worker(database_url: str, redis_url: str, smtp_server, *options: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "BILLFOLD_ENV": "development",
        "SECRET_KEY": "worker-test-secret",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "RQ_QUEUE_MAIL": "test-mail",
        "RQ_QUEUE_SMS": "test-sms",
        "MAIL_BACKEND": "smtp",
        "MAIL_SERVER": smtp_server.hostname,
        "MAIL_PORT": str(smtp_server.port),
        "SERVER_NAME": "billing.example.test",
    }
    return subprocess.Popen(
        [sys.executable, "worker.py", "--burst", *options],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(worker: subprocess.Popen) -> None:
    _, stderr = worker.communicate(timeout=120)
    assert worker.returncode == 0, stderr[-2000:]


@pytest.mark.redis
def test_jobs_go_to_the_queue_of_their_kind_and_a_worker_serves_the_kinds_it_is_given(
    redis_app, database_url, redis_url, smtp_server
):
    from app.core.queue import enqueue, queue_names

    ids = write_emails(redis_app, [f"q{n}@example.com" for n in range(120)])  # one commit: three ranges of 50
    with redis_app.app_context():
        assert queue_names() == ["billfold", "test-sms", "test-mail"]
        enqueue("app.notify.sms.send_sms", 999999)  # an SMS job (its row is gone: it will skip)
        mail, sms, default = get_queue(kind="mail"), get_queue(kind="sms"), get_queue()
        assert [j.func_name for j in mail.jobs] == ["app.notify.jobs.send_email_batch"] * 3
        assert [j.args for j in mail.jobs] == [[s, s + 49] for s in sorted({i // 50 * 50 for i in ids})]
        assert [j.func_name for j in sms.jobs] == ["app.notify.sms.send_sms"]
        assert default.count == 0

    finish(start_worker(database_url, redis_url, smtp_server, "--queues", "mail"))

    assert len(smtp_server.handler.messages) == 120
    with redis_app.app_context():
        assert get_queue(kind="mail").count == 0
        assert get_queue(kind="sms").count == 1, "a mail-only worker leaves the SMS queue alone"
    finish(start_worker(database_url, redis_url, smtp_server, "--queues", "test-sms"))  # a name works too
    with redis_app.app_context():
        assert get_queue(kind="sms").count == 0


@pytest.mark.redis
def test_the_sweeper_hands_a_lost_range_once_and_not_what_waits(redis_app, runner_for_redis):
    ids = write_emails(redis_app, [f"s{n}@example.com" for n in range(60)])  # ranges [0-49], [50-99]
    with redis_app.app_context():
        assert get_queue(kind="mail").count == 2
    assert "0 queued message(s)" in runner_for_redis.invoke(args=["outbox", "flush"]).output
    with redis_app.app_context():
        get_queue(kind="mail").empty()  # Redis lost them
    result = runner_for_redis.invoke(args=["outbox", "flush"]).output
    assert f"{len(ids)} queued message(s), {len(ids)} handed" in result
    assert "0 queued message(s)" in runner_for_redis.invoke(args=["outbox", "flush"]).output
    with redis_app.app_context():
        assert get_queue(kind="mail").count == 2


@pytest.fixture
def runner_for_redis(redis_app):
    return redis_app.test_cli_runner()


@pytest.mark.redis
# Two worker processes writing at once: PostgreSQL's row locks (SKIP LOCKED) are the case, not SQLite's.
@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgresql)], indirect=True)
def test_two_workers_never_send_the_same_message(redis_app, database_url, redis_url, smtp_server):
    ids = write_emails(redis_app, [f"w{n}@example.com" for n in range(400)])
    with redis_app.app_context():
        mail = get_queue(kind="mail")
        ranges = [tuple(j.args) for j in mail.jobs]
        for first, last in ranges * 2:  # every range twice more (a sweeper's copy, an RQ re-run)
            mail.enqueue("app.notify.jobs.send_email_batch", first, last)
            mail.enqueue("app.notify.jobs.send_email_batch", ids[0], ids[-1])  # and overlapping ones
    workers = [start_worker(database_url, redis_url, smtp_server) for _ in range(2)]
    for worker in workers:
        finish(worker)

    at_smtp = [int(re.search(rb"Message-ID: <outbox-(\d+)@", m.content).group(1)) for m in smtp_server.handler.messages]
    assert sorted(at_smtp) == ids, "each message reached the server exactly once"
    assert set(statuses(redis_app).values()) == {("sent", 1)}


def test_the_wire_bytes_read_back_as_the_message_written(app_in_context):
    import email
    import email.policy

    from app.notify.email import build_mime
    from app.notify.smtp import wire_bytes

    row = EmailMessage(
        id=7,
        recipients=["a@example.com", "b@example.com"],
        subject="Factură proformă PF-2026-000123: plătiți până la 10 decembrie, vă rugăm, नमस्ते",
        body_text="Bună ziua,\nSuma: 12,50 €\n" + "x" * 1200,  # a line longer than SMTP allows
        body_html="<p>नमस्ते</p>\n<p>ok</p>",
    )
    data = wire_bytes(build_mime(row))
    assert all(len(line) <= 998 for line in data.split(b"\r\n")) and b"\n" not in data.replace(b"\r\n", b"")
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert parsed["Subject"] == row.subject and parsed["To"] == "a@example.com, b@example.com"
    assert parsed["Message-ID"] == "<outbox-7@billing.example.test>"
    text, html = (part.get_content().replace("\r\n", "\n") for part in parsed.iter_parts())
    assert (text, html) == (row.body_text + "\n", row.body_html + "\n")
