"""Scheduled work with a scheduler on every host: one billing run and one outbox sweep at a time."""

from __future__ import annotations

import threading
from datetime import date

import sqlalchemy as sa

from app.billing.jobs import BILLING_RUN_LOCK, billing_run_job
from app.core.locks import lock_key, run_lock
from app.extensions import db
from app.invoices.models import BillingRun, Invoice
from app.notify.jobs import flush_outbox_job
from tests.helpers import make_owner, make_service
from tests.support.concurrency import run_together

RUN_DATE = "2026-12-01"


def renewal_proformas(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(Invoice.id)).where(Invoice.origin == "renewal"))


def billing_runs(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(BillingRun.id)))


class HeldElsewhere:
    """`run_lock(name)` held by another thread (its own connection on PostgreSQL) until release()."""

    def __init__(self, app, name: str) -> None:
        self._taken, self._release = threading.Event(), threading.Event()
        self.got = None
        self._thread = threading.Thread(target=self._hold, args=(app, name))
        self._thread.start()
        assert self._taken.wait(10)

    def _hold(self, app, name: str) -> None:
        with app.app_context(), run_lock(name) as got:
            self.got = got
            self._taken.set()
            self._release.wait(30)

    def release(self) -> None:
        self._release.set()
        self._thread.join(10)


def test_four_schedulers_starting_the_same_billing_run_together_do_its_work_once(app):
    clients = [make_owner(app, email=f"c{i}@example.com") for i in range(4)]
    for account in clients:
        make_service(app, account.client_id, due=date(2026, 12, 10))
        make_service(app, account.client_id, due=date(2026, 12, 10), label="second.example")
    results: list[dict] = []

    errors = run_together(app, [lambda: results.append(billing_run_job(RUN_DATE)) for _ in range(4)])

    assert errors == []
    assert renewal_proformas(app) == 4  # one per client and due date (both services on it)
    done = [r for r in results if "skipped" not in r]
    assert sum(r["proformas"] for r in done) == 4
    assert all(r["skipped"] == "another billing run is in progress" for r in results if r not in done)
    assert billing_runs(app) == len(done) >= 1


def test_a_billing_run_while_another_holds_the_lock_skips_and_says_so(app, runner):
    owner = make_owner(app)
    make_service(app, owner.client_id, due=date(2026, 12, 10))
    other = HeldElsewhere(app, BILLING_RUN_LOCK)
    try:
        assert other.got is True
        with app.app_context():
            skipped = billing_run_job(RUN_DATE)
        cli = runner.invoke(args=["billing", "run", "--date", RUN_DATE])
    finally:
        other.release()

    assert skipped == {"run_date": RUN_DATE, "skipped": "another billing run is in progress"}
    assert cli.exit_code == 0 and "skipped, another billing run is in progress" in cli.output
    assert renewal_proformas(app) == 0 and billing_runs(app) == 0
    # The lock ends with its holder: the next run does the work.
    with app.app_context():
        assert billing_run_job(RUN_DATE)["proformas"] == 1


def test_one_outbox_sweep_at_a_time(app):
    other = HeldElsewhere(app, "outbox-flush")
    try:
        with app.app_context():
            assert flush_outbox_job() == {"skipped": "another outbox sweep is in progress"}
    finally:
        other.release()
    with app.app_context():
        assert flush_outbox_job() == {"found": 0, "handed": 0}


def test_locks_of_different_names_do_not_block_each_other(app):
    other = HeldElsewhere(app, BILLING_RUN_LOCK)
    try:
        with app.app_context(), run_lock("outbox-flush") as got:
            assert got is True
    finally:
        other.release()


def test_the_lock_key_is_a_stable_bigint():
    assert lock_key("billing-run") == lock_key("billing-run") != lock_key("outbox-flush")
    assert -(2**63) <= lock_key("billing-run") < 2**63
