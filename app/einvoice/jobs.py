"""e-Factura jobs (run by RQ workers, or in-process): each document's next step, and the sweep
that hands over the documents due (every five minutes under `rq cron`, or `flask einvoice sweep`)."""

from __future__ import annotations

import logging

from app.core.locks import run_lock
from app.core.queue import enqueue, job
from app.einvoice import services

log = logging.getLogger(__name__)


@job
def advance_einvoice(einvoice_id: int) -> str:
    """Build, check, upload or ask ANAF about one document (app.einvoice.services.advance)."""
    if not services.enabled():
        return "off"
    return services.advance(einvoice_id)


@job
def efactura_sweep_job() -> int:
    """Hand each due document to a job of its own; returns how many. One sweep at a time across hosts."""
    if not services.enabled():
        return 0
    with run_lock("efactura-sweep") as got:
        if not got:
            return 0
        due = services.due_ids()
        for einvoice_id in due:
            enqueue("app.einvoice.jobs.advance_einvoice", einvoice_id)
        if due:
            log.info("e-Factura sweep: %s document(s) handed over", len(due))
        return len(due)
