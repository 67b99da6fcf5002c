"""Benchmark the client area's pages under gunicorn on a large PostgreSQL data set.

    source .ci/postgres.sh && start_postgres     # or set BENCH_DATABASE_URL
    .venv/bin/python bench/pages.py [--clients 10000] [--requests 400] [--concurrency 4]

Seeds (set-based SQL) 10k clients with an owner each, 100k services and 500k
invoices with their lines and a wallet history, starts gunicorn on that
database, signs in as one client in the middle of the data, then measures each
page with keep-alive connections: requests/s and p50/p99 latency, each as a
ratio to /healthz on the same server. A ratio, not a number of milliseconds,
so runs on different machines compare. The invoice PDF line is the render time
of a proforma PDF (rendered on every request; a tax invoice's is stored once).
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from bench._pg import fresh_database  # noqa: E402
from config import DevelopmentConfig  # noqa: E402

PASSWORD = "bench-password-1"  # noqa: S105 (the seeded accounts of a throwaway database)
SERVICES_PER_CLIENT = 10
INVOICES_PER_CLIENT = 50
ENTRIES_PER_CLIENT = 20


def seed(n_clients: int) -> None:
    """The data set, in a handful of INSERT ... SELECT statements."""
    from app.core.passwords import hash_password
    from app.demo import seed_catalog

    seed_catalog()
    product_id = db.session.scalar(sa.text("SELECT min(id) FROM products"))
    run = db.session.execute
    run(
        sa.text(
            "INSERT INTO clients (kind, status, currency, language, name, country, balance_minor, created_at) "
            "SELECT 'person', 'active', 'EUR', 'en', 'Client ' || g, 'RO', 0, now() FROM generate_series(1, :n) g"
        ),
        {"n": n_clients},
    )
    run(
        sa.text(
            "INSERT INTO users (client_id, role, status, email, name, password_hash, sms_opt_in, security_stamp, "
            "created_at, language, ip_allowlist, login_alerts, reset_nonce, permissions, notification_types) "
            "SELECT id, 'owner', 'active', 'client' || id || '@bench.example', name, :hash, false, "
            "md5(random()::text), now(), 'en', '[]', false, md5(random()::text), '[]', '[]' FROM clients"
        ),
        {"hash": hash_password(PASSWORD)},
    )
    run(
        sa.text(
            "INSERT INTO services (client_id, product_id, label, status, cycle, price_minor, currency, "
            "next_due_date, billing_day, created_at) "
            "SELECT c.id, :product, 's' || s || '.client' || c.id || '.example', 'active', 'monthly', 499, 'EUR', "
            "current_date + s * 3, EXTRACT(DAY FROM current_date + s * 3), now() "
            "FROM clients c CROSS JOIN generate_series(1, :per) s"
        ),
        {"product": product_id, "per": SERVICES_PER_CLIENT},
    )
    # Per client: proformas (one in five unpaid) and a tax invoice for each paid one.
    run(
        sa.text(
            "INSERT INTO invoices (client_id, kind, number, status, origin, currency, issue_date, due_date, "
            "subtotal_minor, tax_minor, total_minor, amount_paid_minor, tax_mode, tax_rate_bp, buyer_kind, "
            "buyer_name, buyer_country, seller, created_at, line_count) "
            "SELECT c.id, CASE WHEN i % 2 = 0 THEN 'proforma' ELSE 'tax_invoice' END, "
            "CASE WHEN i % 2 = 0 THEN 'PF-' ELSE 'F-' END || c.id || '-' || i, "
            "CASE WHEN i % 10 = 0 THEN 'unpaid' ELSE 'paid' END, 'renewal', 'EUR', "
            "current_date - (:per - i) * 7, current_date - (:per - i) * 7 + 7, "
            "1000, 210, 1210, CASE WHEN i % 10 = 0 THEN 0 ELSE 1210 END, 'standard', 2100, 'person', "
            "c.name, 'RO', '{}', now(), 1 "
            "FROM clients c CROSS JOIN generate_series(1, :per) i"
        ),
        {"per": INVOICES_PER_CLIENT},
    )
    run(
        sa.text(
            "INSERT INTO invoice_lines (invoice_id, position, description, quantity, unit_price_minor, amount_minor) "
            "SELECT id, 1, 'Web Hosting Start - monthly', 1, 1000, 1000 FROM invoices"
        )
    )
    run(
        sa.text(
            "INSERT INTO ledger_entries (client_id, kind, amount_minor, currency, balance_after_minor, description, "
            "idempotency_key, actor, created_at) "
            "SELECT c.id, 'top_up', 5000, 'EUR', 5000 * e, 'Card payment Visa •••• 4242', "
            "'bench:' || c.id || ':' || e, 'user:1', now() - (:per - e) * interval '1 day' "
            "FROM clients c CROSS JOIN generate_series(1, :per) e"
        ),
        {"per": ENTRIES_PER_CLIENT},
    )
    run(sa.text("UPDATE clients SET balance_minor = 5000 * :per"), {"per": ENTRIES_PER_CLIENT})
    db.session.commit()
    run(sa.text("ANALYZE"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(url: str, port: int, workers: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "BILLFOLD_ENV": "development",
        "DATABASE_URL": url,
        "SECRET_KEY": "bench-secret-key",
    }
    env.pop("REDIS_URL", None)
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
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("gunicorn did not start")


class Session:
    """A keep-alive HTTP connection with a cookie jar of one."""

    def __init__(self, port: int, cookie: str = "") -> None:
        self.port, self.cookie = port, cookie
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes, http.client.HTTPResponse]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        content = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            name_value = header.split(";", 1)[0]
            if name_value.startswith("session="):
                self.cookie = name_value
        return response.status, content, response


def sign_in(port: int, email: str) -> str:
    session = Session(port)
    _, page, _ = session.request("GET", "/login")
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1).decode()
    status, _, _ = session.request("POST", "/login", {"email": email, "password": PASSWORD, "csrf_token": token})
    if status != 302:
        raise RuntimeError(f"sign-in failed: {status}")
    return session.cookie


def measure(port: int, cookie: str, path: str, requests: int, concurrency: int) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    per_thread = max(1, requests // concurrency)

    def run():
        session = Session(port, cookie)
        session.request("GET", path)  # warm the connection (and the worker's caches)
        mine = []
        for _ in range(per_thread):
            started = time.perf_counter()
            status, _, _ = session.request("GET", path)
            mine.append(time.perf_counter() - started)
            if status != 200:
                errors.append(f"{path}: HTTP {status}")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=run) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(errors[0])
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=400, help="per page")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--reuse", action="store_true", help="keep the database of a previous run")
    args = parser.parse_args()

    name = f"billfold_bench_pages_{args.clients}"
    if args.reuse:
        from bench._pg import server_url

        url = f"{server_url()}/{name}"
    else:
        url = fresh_database(name)
    app = create_app(DevelopmentConfig, {"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        if not args.reuse:
            from flask_migrate import upgrade

            started = time.perf_counter()
            upgrade()
            seed(args.clients)
            print(f"seeded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        counts = {
            table: db.session.scalar(sa.text(f"SELECT count(*) FROM {table}"))  # noqa: S608 (fixed names)
            for table in ("clients", "services", "invoices", "invoice_lines", "ledger_entries")
        }
        client_id = args.clients // 2
        unpaid = db.session.scalar(
            sa.text("SELECT number FROM invoices WHERE client_id = :c AND status = 'unpaid' ORDER BY id LIMIT 1"),
            {"c": client_id},
        )
        tax = db.session.scalar(
            sa.text("SELECT number FROM invoices WHERE client_id = :c AND kind = 'tax_invoice' ORDER BY id LIMIT 1"),
            {"c": client_id},
        )
        db.engine.dispose()
    print("data set: " + ", ".join(f"{n:,} {t}" for t, n in counts.items()))

    port = free_port()
    server = start_gunicorn(url, port, args.workers)
    try:
        cookie = sign_in(port, f"client{client_id}@bench.example")
        pages = [
            ("/healthz", "/healthz", args.requests),
            ("dashboard", "/", args.requests),
            ("invoices", "/invoices", args.requests),
            ("invoices, paid, page 2", "/invoices?status=paid&page=2", args.requests),
            ("invoice (proforma)", f"/invoices/{unpaid}", args.requests),
            ("invoice (tax)", f"/invoices/{tax}", args.requests),
            ("services", "/services", args.requests),
            ("wallet", "/wallet", args.requests),
            ("statement", "/wallet/statement", args.requests),
            ("notifications", "/account/notifications", args.requests),
            ("invoice PDF (render)", f"/invoices/{unpaid}/pdf", max(20, args.requests // 10)),
        ]
        results = {label: measure(port, cookie, path, n, args.concurrency) for label, path, n in pages}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    base = results["/healthz"]
    print(f"gunicorn, {args.workers} workers, {args.concurrency} concurrent keep-alive clients")
    print(f"{'page':<24} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'req/s /healthz':>15} {'p50 x':>7} {'p99 x':>7}")
    for label, r in results.items():
        print(
            f"{label:<24} {r['rps']:>8.0f} {r['p50'] * 1000:>8.1f} {r['p99'] * 1000:>8.1f} "
            f"{r['rps'] / base['rps']:>15.3f} {r['p50'] / base['p50']:>7.1f} {r['p99'] / base['p99']:>7.1f}"
        )


if __name__ == "__main__":
    main()
