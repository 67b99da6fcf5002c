"""The daily billing run: renewal proformas, suspensions and terminations.

An orchestrator: it calls the domains' services in order (renewal proformas from
app.invoices, a service's life from app.hosting, reminders and warnings from
app.notify), commits between the steps and collects what each did.

Set-based: each batch of clients costs a fixed number of SQL statements,
whatever the number of services. Idempotent: a service gets one renewal
proforma per period (a unique row in service_renewals), and suspension and
termination only move services that are not there yet, so running the same
date twice changes nothing the second time.

Rendering outside the batches: the proforma, suspension and termination notices
are recorded in each batch's transaction (app.notify.pending: a PendingNotice per
event) and rendered into the outbox right after its commit, in transactions of
their own, without the clients' row locks (the outbox sweeper renders what a run
that died left behind).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask import current_app

from app.core.types import utcnow
from app.extensions import db
from app.hosting.lifecycle import (
    cancel_ordered_services,
    lock_clients_due_for_renewal,
    renewal_lines,
    suspend_overdue_services,
    terminate_long_overdue_services,
)
from app.invoices.models import BillingRun
from app.invoices.renewals import issue_renewal_proformas
from app.invoices.services import cancel_abandoned_orders
from app.notify.services import (
    deferred_notices,
    render_pending_notices,
    send_invoice_reminders,
    send_termination_warnings,
)


@dataclass
class RunResult:
    run_date: date
    proforma_ids: list[int] = field(default_factory=list)
    suspended_ids: list[int] = field(default_factory=list)
    terminated_ids: list[int] = field(default_factory=list)
    cancelled_proformas: int = 0
    cancelled_orders: list[int] = field(default_factory=list)
    termination_warnings: int = 0
    reminders: int = 0


def run_billing(run_date: date, *, batch_clients: int | None = None) -> RunResult:
    """Run the billing for `run_date`, committing after each batch."""
    batch_clients = batch_clients or current_app.config["BILLING_RUN_BATCH"]
    render_pending_notices()  # a previous run's, first: the outbox keeps the events' order
    with deferred_notices():
        return _run(run_date, batch_clients)


def _commit() -> None:
    """Commit, then render the notices the transaction recorded (each in its own)."""
    db.session.commit()
    render_pending_notices()


def _run(run_date: date, batch_clients: int) -> RunResult:
    run = BillingRun(run_date=run_date)
    db.session.add(run)
    db.session.commit()
    result = RunResult(run_date)
    # Each step in the order its events happen to a service, so a run catching up
    # on missed days writes its notices in that order too (outbox order = event
    # order) and never warns of what already happened. A missed suspension of a
    # service already past its termination day comes first, then terminations
    # (a service ending today gets no new proforma), renewals, suspensions (the
    # notice names the proforma to pay), termination warnings, reminders.
    result.suspended_ids = suspend_overdue_services(run_date, past_termination=True)
    result.terminated_ids, result.cancelled_proformas = terminate_long_overdue_services(run_date)
    _commit()
    result.cancelled_orders = cancel_abandoned_orders(run_date)
    cancel_ordered_services(result.cancelled_orders)
    _commit()
    result.proforma_ids = create_renewal_proformas(run_date, batch_clients=batch_clients)
    result.suspended_ids += suspend_overdue_services(run_date)
    _commit()
    result.termination_warnings = send_termination_warnings(run_date)
    _commit()
    result.reminders = send_invoice_reminders(run_date)
    _commit()
    run = db.session.get(BillingRun, run.id)
    run.finished_at = utcnow()
    run.proformas_created = len(result.proforma_ids)
    run.services_suspended = len(result.suspended_ids)
    run.services_terminated = len(result.terminated_ids)
    _commit()
    return result


def create_renewal_proformas(run_date: date, *, batch_clients: int) -> list[int]:
    """One renewal proforma per client and due date, for every service entering
    its renewal window. Commits after each batch of clients. Returns the ids."""
    created: list[int] = []
    last_client_id = 0
    while locked := lock_clients_due_for_renewal(run_date, after_client_id=last_client_id, limit=batch_clients):
        last_client_id = locked[-1]
        if lines := renewal_lines(run_date, locked):
            created.extend(issue_renewal_proformas(run_date, lines))
        _commit()
    return created
