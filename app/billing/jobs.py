"""Background jobs of the billing run."""

from __future__ import annotations

from datetime import date

from app.billing.run import RunResult, run_billing
from app.core.dates import today
from app.core.locks import run_lock
from app.core.queue import job

#: One billing run at a time on the whole deployment, whatever its date: runs of
#: different dates (a catch-up) move the same services.
BILLING_RUN_LOCK = "billing-run"


def billing_run_once(run_date: date) -> RunResult | None:
    """The billing run for `run_date`, unless another one is running (then None).

    Every host's scheduler enqueues the daily run, and an operator may start one
    by hand meanwhile: the first to take the lock runs; the others skip. One
    that comes after the first has finished finds nothing left to do (the run
    is idempotent per date).
    """
    with run_lock(BILLING_RUN_LOCK) as mine:
        return run_billing(run_date) if mine else None


@job(queue="billing")
def billing_run_job(run_date: str | None = None) -> dict:
    """The daily billing run (scheduled by `rq cron app/cron.py` on every host). Safe to repeat."""
    day = date.fromisoformat(run_date) if run_date else today()
    result = billing_run_once(day)
    if result is None:
        return {"run_date": day.isoformat(), "skipped": "another billing run is in progress"}
    return {
        "run_date": result.run_date.isoformat(),
        "proformas": len(result.proforma_ids),
        "suspended": len(result.suspended_ids),
        "terminated": len(result.terminated_ids),
    }
