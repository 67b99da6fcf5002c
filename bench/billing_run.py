"""Benchmark the billing run on PostgreSQL: services/s at 10k and 100k services.

    source .ci/postgres.sh && start_postgres     # or set BENCH_DATABASE_URL
    .venv/bin/python bench/billing_run.py [--sizes 10000,100000]

For each size it creates a fresh database, migrates it, seeds clients with 10
services each (all entering their renewal window on the run date), runs the
billing and reports services/s, proformas, and SQL statements per batch.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import create_app
from app.extensions import db
from bench._pg import fresh_database
from config import DevelopmentConfig

RUN_DATE = date(2026, 12, 1)
SERVICES_PER_CLIENT = 10


def seed(n_services: int, *, users: bool = False) -> None:
    from app.demo import seed_catalog

    seed_catalog()
    product_id = db.session.scalar(sa.text("SELECT min(id) FROM products"))
    n_clients = n_services // SERVICES_PER_CLIENT
    db.session.execute(
        sa.text(
            "INSERT INTO clients (kind, status, currency, language, name, country, balance_minor, created_at) "
            "SELECT 'person', 'active', 'EUR', 'en', 'Client ' || g, "
            "(ARRAY['RO','DE','FR','US'])[1 + g % 4], 0, now() FROM generate_series(1, :n) g"
        ),
        {"n": n_clients},
    )
    db.session.execute(
        sa.text(
            "INSERT INTO services (client_id, product_id, label, status, cycle, price_minor, currency, "
            "next_due_date, billing_day, created_at) "
            "SELECT c.id, :product, 's' || s || '.client' || c.id || '.example', 'active', "
            "CASE WHEN s % 3 = 0 THEN 'annually' ELSE 'monthly' END, 499 + s * 100, 'EUR', "
            ":due + (s % 3), EXTRACT(DAY FROM :due + (s % 3)), now() "
            "FROM clients c CROSS JOIN generate_series(1, :per) s"
        ),
        {"product": product_id, "per": SERVICES_PER_CLIENT, "due": RUN_DATE + timedelta(days=7)},
    )
    if users:  # an owner per client, subscribed to everything: each proforma is an email to render
        db.session.execute(
            sa.text(
                "INSERT INTO users (client_id, role, status, email, password_hash, name, sms_opt_in, "
                "security_stamp, created_at, ip_allowlist, login_alerts, reset_nonce, permissions, "
                "notification_types) "
                "SELECT id, 'owner', 'active', 'owner' || id || '@example.com', 'x', name, false, md5(id::text), "
                "now(), '[]', false, md5(id::text), '[]', '[\"invoices\", \"payments\", \"service_status\"]' "
                "FROM clients"
            )
        )
    db.session.commit()
    db.session.execute(sa.text("ANALYZE"))


def bench(n_services: int, batch_clients: int, profile: str | None = None, users: bool = False) -> dict:
    from flask_migrate import upgrade

    from app.billing.run import run_billing

    url = fresh_database(f"billfold_billing_bench_{n_services}")
    app = create_app(DevelopmentConfig, {"SQLALCHEMY_DATABASE_URI": url, "BILLING_RUN_BATCH": batch_clients})
    with app.app_context():
        upgrade()
        seed(n_services, users=users)
        statements = 0

        def tally(*args):
            nonlocal statements
            statements += 1

        # Without Redis a job runs in-process at commit: the emails would be sent inside
        # the run. The outbox's throughput is another benchmark, so they stay queued here.
        from app.core import queue as job_queue

        job_queue.enqueue = lambda path, *args: False
        sa.event.listen(db.engine, "before_cursor_execute", tally)
        profiler = None
        if profile:
            from pyinstrument import Profiler

            profiler = Profiler()
            profiler.start()
        started = time.perf_counter()
        result = run_billing(RUN_DATE)
        elapsed = time.perf_counter() - started
        if profiler:
            profiler.stop()
            Path(f"{profile}-{n_services}.txt").write_text(profiler.output_text(show_all=False))
        sa.event.remove(db.engine, "before_cursor_execute", tally)
        renewed = db.session.scalar(sa.text("SELECT count(*) FROM service_renewals"))
        batches = -(-(n_services // SERVICES_PER_CLIENT) // batch_clients)
        db.engine.dispose()
    return {
        "services": n_services,
        "renewed": renewed,
        "proformas": len(result.proforma_ids),
        "seconds": elapsed,
        "services_per_s": renewed / elapsed,
        "batches": batches,
        "statements": statements,
        "statements_per_batch": statements / batches,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--batch-clients", type=int, default=1000)
    parser.add_argument("--users", action="store_true", help="an owner per client (each proforma is an email)")
    parser.add_argument("--profile", metavar="PREFIX", help="write a pyinstrument profile to PREFIX-<size>.txt")
    parser.add_argument("--json", type=Path, help="also write the figures to this file (bench/run.py reads it)")
    args = parser.parse_args()
    runs = []
    header = ("services", "renewed", "proformas", "seconds", "svc/s", "batches", "stmts/batch")
    print(" ".join(f"{h:>9}" for h in header))
    for size in (int(s) for s in args.sizes.split(",")):
        r = bench(size, args.batch_clients, args.profile, args.users)
        runs.append(r)
        print(
            f"{r['services']:>9} {r['renewed']:>9} {r['proformas']:>9} {r['seconds']:>9.2f} "
            f"{r['services_per_s']:>9.0f} {r['batches']:>9} {r['statements_per_batch']:>9.1f}"
        )
    if args.json:
        args.json.write_text(json.dumps({"users": args.users, "runs": runs}, indent=2, default=str))


if __name__ == "__main__":
    main()
