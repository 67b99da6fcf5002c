"""Background jobs of the billing run."""

from __future__ import annotations

from datetime import date

from app.billing.run import run_billing
from app.core.dates import today
from app.core.queue import job


@job
def billing_run_job(run_date: str | None = None) -> dict:
    """The daily billing run (scheduled by `rq cron app/cron.py`). Safe to repeat."""
    result = run_billing(date.fromisoformat(run_date) if run_date else today())
    return {
        "run_date": result.run_date.isoformat(),
        "proformas": len(result.proforma_ids),
        "suspended": len(result.suspended_ids),
        "terminated": len(result.terminated_ids),
    }
