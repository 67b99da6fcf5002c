"""A service's life after its order: what is due for renewal, suspension of overdue
services, termination of long-overdue ones and cancelling the services of abandoned
orders (activation and renewal on payment: app.hosting.services.services_paid).

Set-based: each costs a fixed number of SQL statements, whatever the number of
services, and only moves services not there yet (running the same date twice
changes nothing the second time). Functions flush but never commit.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app

from app.clients.models import Client, ClientStatus
from app.core.events import emit
from app.core.sql import add_days
from app.extensions import db
from app.hosting.models import BillingCycle, Product, Service, ServiceGroup, ServiceStatus
from app.invoices.models import DocumentKind, Invoice, InvoiceLine, InvoiceStatus, ServiceRenewal
from app.invoices.services import LineSpec, release_queued_items

# --- renewals ------------------------------------------------------------------------


def _setting(column, config_key: str):
    """The client's own value of a billing setting, else the global one (SQL)."""
    return sa.func.coalesce(column, current_app.config[config_key])


def _renewal_candidates(run_date: date):
    """Services whose renewal proforma for the current period is due and not yet made."""
    renewal_window_end = add_days(run_date, _setting(Client.renewal_days_before, "RENEWAL_DAYS_BEFORE"))
    already = sa.exists().where(
        ServiceRenewal.service_id == Service.id, ServiceRenewal.period_start == Service.next_due_date
    )
    return (
        sa.select(Service.id)
        .join(Client, Client.id == Service.client_id)
        .where(
            Service.status.in_([ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED]),
            Service.next_due_date.is_not(None),
            Service.next_due_date <= renewal_window_end,
            Client.status == ClientStatus.ACTIVE,
            ~already,
        )
    )


def lock_clients_due_for_renewal(run_date: date, *, after_client_id: int, limit: int) -> list[int]:
    """The next `limit` clients (by id, after `after_client_id`) with services entering
    their renewal window, locked.

    In id order, as payments and checkouts lock a client first: a concurrent run or
    checkout waits, and what it committed meanwhile is seen by renewal_lines.
    """
    client_ids = (
        _renewal_candidates(run_date)
        .with_only_columns(Service.client_id)
        .where(Service.client_id > after_client_id)
        .group_by(Service.client_id)
        .order_by(Service.client_id)
        .limit(limit)
    ).subquery()
    return list(
        db.session.scalars(
            sa.select(Client.id)
            .where(Client.id.in_(sa.select(client_ids.c.client_id)))
            .order_by(Client.id)
            .with_for_update()
        ).all()
    )


def renewal_lines(run_date: date, client_ids: list[int]) -> dict[tuple[int, date], list[LineSpec]]:
    """The renewal proformas due for these clients' services (one query): their lines
    per client and due date, the lines of one service group together."""
    rows = db.session.execute(
        _renewal_candidates(run_date)
        .with_only_columns(
            Service.id,
            Service.client_id,
            Service.next_due_date,
            Service.cycle,
            Service.billing_day,
            Service.price_minor,
            Service.label,
            Product.name.label("product_name"),
            ServiceGroup.name.label("group_name"),
            ServiceGroup.hide_on_invoice,
        )
        .join(Product, Product.id == Service.product_id)
        .outerjoin(ServiceGroup, ServiceGroup.id == Service.group_id)
        .where(Service.client_id.in_(client_ids))
        .order_by(Service.client_id, Service.next_due_date, Service.id)
    ).all()
    groups: dict[tuple[int, date], list] = defaultdict(list)
    for row in rows:
        groups[(row.client_id, row.next_due_date)].append(row)
    return {
        key: [
            _renewal_line(s)
            for s in sorted(services, key=lambda s: ("" if s.hide_on_invoice else s.group_name or "", s.id))
        ]
        for key, services in groups.items()
    }


@functools.lru_cache(maxsize=4096)
def _period_end(cycle: str, start: date, billing_day: int | None) -> date:
    """BillingCycle.period_end, once per distinct (cycle, start, billing day) of a run."""
    return BillingCycle(cycle).period_end(start, billing_day)


def _renewal_line(service) -> LineSpec:
    start = service.next_due_date
    period_end = _period_end(service.cycle, start, service.billing_day)
    last_day = period_end - timedelta(days=1)
    return LineSpec(
        description=f"{service.product_name} - {service.label} ({start:%d.%m.%Y} - {last_day:%d.%m.%Y})",
        unit_price_minor=service.price_minor,
        service_id=service.id,
        group_name=None if service.hide_on_invoice else service.group_name,
        period_start=service.next_due_date,
        period_end=period_end,
    )


# --- suspension and termination -----------------------------------------------------


def _client_setting(column, config_key: str):
    """A per-client billing setting for the service being updated (correlated)."""
    value = sa.select(column).where(Client.id == Service.client_id).scalar_subquery()
    return sa.func.coalesce(value, current_app.config[config_key])


def _lock_clients_of(services_where) -> None:
    """Lock (in id order) the clients owning the services matched, before touching
    those services: the order payments use, so the two never deadlock."""
    db.session.execute(
        sa.select(Client.id)
        .where(Client.id.in_(sa.select(Service.client_id).where(*services_where)))
        .order_by(Client.id)
        .with_for_update()
    ).all()


def suspend_overdue_services(run_date: date, *, past_termination: bool = False) -> list[int]:
    """Suspend active services whose due date is M days past. Returns their ids.
    A client with auto_suspend off is left alone (and so never terminated either).

    `past_termination`: only those already K days past (the termination day),
    which a run catching up on missed days suspends and then terminates.
    """
    if past_termination:
        days_after = _client_setting(Client.terminate_days_after, "TERMINATE_DAYS_AFTER")
    else:
        days_after = _client_setting(Client.suspend_days_after, "SUSPEND_DAYS_AFTER")
    overdue = (
        Service.status == ServiceStatus.ACTIVE,
        Service.next_due_date <= add_days(run_date, -days_after),
        # Staff turned automatic suspension off for the client (None: on).
        sa.select(Client.auto_suspend).where(Client.id == Service.client_id).scalar_subquery().is_not(False),
    )
    _lock_clients_of(overdue)
    suspended = db.session.scalars(
        sa.update(Service)
        .where(*overdue)
        .values(status=ServiceStatus.SUSPENDED, suspended_on=run_date, suspension_reason="overdue")
        .returning(Service.id)
        .execution_options(synchronize_session=False)
    ).all()
    if suspended:
        emit("services_suspended", service_ids=list(suspended), reason="overdue", terminating=past_termination)
    return list(suspended)


def cancel_ordered_services(cancelled_order_ids: list[int]) -> None:
    """Cancel the services ordered on cancelled order proformas, which never started
    (app.invoices.services.cancel_abandoned_orders cancels the proformas)."""
    if not cancelled_order_ids:
        return
    db.session.execute(
        sa.update(Service)
        .where(
            Service.status == ServiceStatus.PENDING,
            Service.id.in_(sa.select(InvoiceLine.service_id).where(InvoiceLine.invoice_id.in_(cancelled_order_ids))),
        )
        .values(status=ServiceStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    )


def terminate_long_overdue_services(run_date: date) -> tuple[list[int], int]:
    """Terminate suspended services K days past due, and cancel the unpaid renewal
    proformas left with only terminated services. Returns (ids, proformas cancelled)."""
    long_overdue = (
        Service.status == ServiceStatus.SUSPENDED,
        Service.next_due_date
        <= add_days(run_date, -_client_setting(Client.terminate_days_after, "TERMINATE_DAYS_AFTER")),
    )
    _lock_clients_of(long_overdue)
    terminated = db.session.scalars(
        sa.update(Service)
        .where(*long_overdue)
        .values(status=ServiceStatus.TERMINATED, terminated_on=run_date)
        .returning(Service.id)
        .execution_options(synchronize_session=False)
    ).all()
    if not terminated:
        return [], 0
    live_service_on_it = (
        sa.select(InvoiceLine.id)
        .join(Service, Service.id == InvoiceLine.service_id)
        .where(InvoiceLine.invoice_id == Invoice.id, Service.status != ServiceStatus.TERMINATED)
        .exists()
    )
    cancelled = (
        db.session.execute(
            sa.update(Invoice)
            .where(
                Invoice.kind == DocumentKind.PROFORMA,
                Invoice.status == InvoiceStatus.UNPAID,
                Invoice.amount_paid_minor == 0,
                Invoice.id.in_(
                    sa.select(ServiceRenewal.proforma_id).where(ServiceRenewal.service_id.in_(list(terminated)))
                ),
                ~live_service_on_it,
            )
            .values(status=InvoiceStatus.CANCELLED)
            .returning(Invoice.id)
            .execution_options(synchronize_session=False)
        )
        .scalars()
        .all()
    )
    if cancelled:
        release_queued_items(cancelled)
    emit("services_terminated", service_ids=list(terminated))
    return list(terminated), len(cancelled)
