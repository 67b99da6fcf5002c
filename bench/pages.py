"""Benchmark the pages under gunicorn on a large PostgreSQL data set, with wrk as the load.

    source .ci/postgres.sh && start_postgres     # or set BENCH_DATABASE_URL (make bench does both)
    .venv/bin/python bench/pages.py [--clients 10000] [--duration 10] [--connections 16] [--workers 2]

Seeds the set with `flask seed-bench` (kept between runs: --reseed to start again),
starts gunicorn on it, signs in once as a client in the middle of the data, once
as the client with thousands of invoices (for the deep page of the list) and
once as staff, then loads each page with wrk (a separate process, the signed-in
cookie reused on every request): requests/s and p50/p99 latency, each beside
its ratio to /healthz of the same server in the same run. A ratio, not a number
of milliseconds, so runs on different machines compare.

Also reports the invoice PDF: rendered fresh (a proforma, in-process, the mean
of several renders) and cached (a tax invoice's stored PDF, through the server).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.benchdata import PASSWORD, STAFF_EMAIL, BenchSet, client_email  # noqa: E402
from app.extensions import db  # noqa: E402
from bench._pg import fresh_database, server_url  # noqa: E402
from config import DevelopmentConfig  # noqa: E402

COUNTED = ("clients", "users", "services", "invoices", "invoice_lines", "ledger_entries", "email_messages")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(url: str) -> dict:
    env = {
        **os.environ,
        "BILLFOLD_ENV": "development",
        "DATABASE_URL": url,
        "SECRET_KEY": "bench-secret-key",
        "STAFF_2FA_REQUIRED": "0",
    }
    env.pop("REDIS_URL", None)
    return env


def ensure_data(clients: int, reseed: bool) -> str:
    """The benchmark database's URL, seeded with `clients` clients (kept from an earlier run if it has them)."""
    name = f"billfold_bench_{clients}"
    url = f"{server_url()}/{name}"
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    if not reseed:
        try:
            engine = sa.create_engine(url)
            with engine.connect() as conn:
                reuse = conn.scalar(sa.text("SELECT count(*) FROM clients")) == clients
        except sa.exc.SQLAlchemyError:
            reuse = False
        finally:
            engine.dispose()
        if reuse:
            print(f"reusing the seeded database {name} (migrated to the code's schema)", file=sys.stderr)
            subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=server_env(url), check=True)  # noqa: S603
            return url
    url = fresh_database(name)
    env = server_env(url)
    started = time.perf_counter()
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)  # noqa: S603
    subprocess.run([*flask, "seed-bench", "--clients", str(clients)], cwd=ROOT, env=env, check=True)  # noqa: S603
    print(f"seeded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return url


def start_gunicorn(url: str, port: int, workers: int) -> subprocess.Popen:
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        [
            sys.executable,
            "-m",
            "gunicorn",
            "app:create_app()",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        env=server_env(url),
    )
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("gunicorn did not start")


class Browser:
    """One HTTP connection per request (gunicorn's sync workers close them) and a cookie jar."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    @property
    def cookie(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, str, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        headers = {"Cookie": self.cookie} if self.cookies else {}
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        content = response.read().decode("utf-8", "replace")
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, value = header.split(";", 1)[0].partition("=")
            self.cookies[name] = value
        conn.close()
        return response.status, content, response.headers.get("Location", "")

    def sign_in(self, login_path: str, email: str) -> Browser:
        _, page, _ = self.request("GET", login_path)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        status, _, _ = self.request("POST", login_path, {"email": email, "password": PASSWORD, "csrf_token": token})
        if status != 302:
            raise RuntimeError(f"sign-in of {email} failed: HTTP {status}")
        return self

    def page(self, path: str, expect: str) -> str:
        """GET `path`, which must answer 200 with `expect` in it (not a login page or an error)."""
        status, content, location = self.request("GET", path)
        if status != 200 or expect not in content:
            raise RuntimeError(f"{path}: HTTP {status} {location} without {expect!r}")
        return content


def next_link(page: str) -> str | None:
    """The list's link to its next (older) page, if any."""
    match = re.search(r'<a[^>]*rel="next"[^>]*href="([^"]+)"|<a[^>]*href="([^"]+)"[^>]*rel="next"', page)
    return (match.group(1) or match.group(2)).replace("&amp;", "&") if match else None


def deep_page(browser: Browser, start: str, hops: int) -> tuple[str, int]:
    """Follow the invoice list's next links up to `hops` times: the deepest page's path, and how deep."""
    path, depth = start, 1
    for _ in range(hops):
        found = next_link(browser.page(path, "<table"))
        if not found:
            break
        path, depth = found, depth + 1
    return path, depth


_UNIT = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _seconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNIT[unit]


def wrk(port: int, path: str, cookie: str, duration: int, connections: int, threads: int = 2) -> dict:
    """wrk's requests/s and p50/p99 latency for GET `path`; fails on any non-2xx/3xx answer."""
    command = [shutil.which("wrk"), f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    command += ["-H", f"Cookie: {cookie}", f"http://127.0.0.1:{port}{path}"]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout  # noqa: S603
    if bad := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        raise RuntimeError(f"{path}: {bad.group(1)} error answers under load\n{out}")
    if errors := re.search(r"Socket errors: (.*)", out):
        print(f"  {path}: socket errors {errors.group(1)}", file=sys.stderr)
    latency = dict(re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)\s*$", out, re.MULTILINE))
    if len(latency) != 2:
        raise RuntimeError(f"{path}: wrk printed no latency distribution\n{out}")
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _seconds(latency["50"]),
        "p99": _seconds(latency["99"]),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
    }


def pdf_render_ms(url: str, number: str, renders: int = 10) -> float:
    """Mean milliseconds to render `number`'s PDF in-process (after one warm-up render)."""
    from app.invoices.models import Invoice
    from app.invoices.views import invoice_pdf_bytes

    app = create_app(DevelopmentConfig, {"SQLALCHEMY_DATABASE_URI": url})
    with app.test_request_context():
        invoice = db.session.scalar(sa.select(Invoice).where(Invoice.number == number))
        assert not invoice.is_tax_document  # a proforma: rendered on every request
        invoice_pdf_bytes(invoice)
        times = []
        for _ in range(renders):
            started = time.perf_counter()
            invoice_pdf_bytes(invoice)
            times.append(time.perf_counter() - started)
        db.engine.dispose()
    return statistics.mean(times) * 1000


def discover(url: str, clients: int) -> dict:
    """The ids and numbers the pages are measured with."""
    heavy = BenchSet(clients).heavy_clients[0]
    middle = clients // 2 + 1
    if middle == heavy:
        middle -= 1
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        one = lambda sql: conn.scalar(sa.text(sql), {"c": middle})  # noqa: E731
        found = {
            "client": middle,
            "heavy": heavy,
            "unpaid": one(
                "SELECT number FROM invoices WHERE client_id = :c AND status = 'unpaid' ORDER BY id DESC LIMIT 1"
            ),
            "tax": one("SELECT number FROM invoices WHERE client_id = :c AND kind = 'tax_invoice' ORDER BY id LIMIT 1"),
            "counts": {t: conn.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in COUNTED},  # noqa: S608
            "heavy_invoices": conn.scalar(sa.text("SELECT count(*) FROM invoices WHERE client_id = :c"), {"c": heavy}),
        }
    engine.dispose()
    return found


def run(clients: int, duration: int, connections: int, workers: int, reseed: bool) -> dict:
    url = ensure_data(clients, reseed)
    found = discover(url, clients)
    print("data set: " + ", ".join(f"{n:,} {t}" for t, n in found["counts"].items()), file=sys.stderr)
    port = free_port()
    server = start_gunicorn(url, port, workers)
    try:
        client = Browser(port).sign_in("/login", client_email(found["client"]))
        heavy = Browser(port).sign_in("/login", client_email(found["heavy"]))
        staff = Browser(port).sign_in("/admin/login", STAFF_EMAIL)
        deep, depth = deep_page(heavy, "/invoices", hops=150)
        cid = found["client"]
        # (label, browser, path, a word the answer must contain)
        pages = [
            ("/healthz", client, "/healthz", "ok"),
            ("dashboard", client, "/", found["unpaid"]),
            ("invoice list, page 1", client, "/invoices", "PF-"),
            (f"invoice list, page {depth} (heavy client)", heavy, deep, "<table"),
            ("invoice view", client, f"/invoices/{found['unpaid']}", found["unpaid"]),
            ("wallet", client, "/wallet", "<table"),
            ("statement", client, "/wallet/statement", "<table"),
            ("notifications", client, "/account/notifications", "<table"),
            ("admin client search", staff, f"/admin/clients?q=Client+{cid}", f"Client {cid}"),
            ("admin client profile", staff, f"/admin/clients/{cid}", f"Client {cid}"),
        ]
        results = {}
        for label, browser, path, expect in pages:
            browser.page(path, expect)  # answers what it should (and a PDF is stored before the load)
            results[label] = wrk(port, path, browser.cookie, duration, connections)
            print(f"  {label}: {results[label]['rps']:.0f} req/s", file=sys.stderr)
        # A stored PDF's own time, one request at a time (the pages above measure queueing too).
        pdf = f"/invoices/{found['tax']}/pdf"
        client.page(pdf, "%PDF")
        pdf_cached = wrk(port, pdf, client.cookie, duration, connections=1, threads=1)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return {
        "data": found["counts"],
        "heavy_invoices": found["heavy_invoices"],
        "load": f"wrk, {connections} connections, 2 threads, {duration} s per page; gunicorn {workers} sync workers",
        "pages": results,
        "pdf_cached": pdf_cached,
        "pdf_fresh_ms": pdf_render_ms(url, found["unpaid"]),
    }


def print_table(result: dict) -> None:
    base = result["pages"]["/healthz"]
    print(result["load"])
    print(f"{'page':<40} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'x /healthz req/s':>17}")
    for label, r in result["pages"].items():
        print(
            f"{label:<40} {r['rps']:>8.0f} {r['p50'] * 1000:>8.1f} {r['p99'] * 1000:>8.1f} "
            f"{r['rps'] / base['rps']:>17.3f}"
        )
    print(f"tax invoice PDF, stored (1 connection): p50 {result['pdf_cached']['p50'] * 1000:.1f} ms")
    print(f"proforma PDF, rendered fresh: {result['pdf_fresh_ms']:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per page")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--reseed", action="store_true", help="seed a fresh database even if one is there")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk; make bench installs it)")
    result = run(args.clients, args.duration, args.connections, args.workers, args.reseed)
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
