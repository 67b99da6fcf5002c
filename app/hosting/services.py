"""Service lifecycle: ordering, activation and renewal on payment, timelines (overdue services: lifecycle.py)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from app.clients.services import lock_client
from app.core.dates import today
from app.core.errors import ValidationError
from app.core.i18n import _
from app.core.money import convert_minor
from app.core.types import utcnow
from app.extensions import db
from app.hosting.models import BillingCycle, Product, Service, ServiceStatus
from app.invoices.models import DocumentKind, Invoice, InvoiceLine, InvoiceStatus, ProformaOrigin
from app.invoices.services import LineSpec, create_proforma

if TYPE_CHECKING:
    from app.clients.models import Client


def services_paid(lines: list[InvoiceLine], *, paid_on: date) -> None:
    """Activate ordered services and extend renewed ones, for the lines of a paid proforma.

    A renewal line extends its service only if the service is still due for
    that period (paying twice never extends twice), and unsuspends a service
    suspended for non-payment. Terminated services are not revived.
    """
    service_ids = [line.service_id for line in lines if line.service_id]
    if not service_ids:
        return
    services = {
        s.id: s for s in db.session.scalars(sa.select(Service).where(Service.id.in_(service_ids)).with_for_update())
    }
    for line in lines:
        service = services.get(line.service_id)
        if service is None:
            continue
        if line.period_start is None:  # an order line
            if service.status is ServiceStatus.PENDING:
                service.status = ServiceStatus.ACTIVE
                service.activated_at = utcnow()
                service.billing_day = paid_on.day
                service.next_due_date = service.cycle.period_end(paid_on, service.billing_day)
        elif service.status in (ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED) and (
            service.next_due_date == line.period_start
        ):
            service.next_due_date = line.period_end
            if service.status is ServiceStatus.SUSPENDED and service.suspension_reason == "overdue":
                service.status = ServiceStatus.ACTIVE
                service.suspended_on = None
                service.suspension_reason = None
    db.session.flush()


@dataclass(frozen=True)
class CartItem:
    product_id: int
    cycle: BillingCycle
    label: str


def place_order(client: Client, items: list[CartItem], *, order_key: str | None = None) -> Invoice:
    """Create the ordered services (pending) and their proforma of origin `order`.

    The same `order_key` again (a double submit) returns the first order's
    proforma. Raises ValidationError when an item is no longer sold.
    """
    if order_key:
        # The key comes from the browser: scope it to the client, so one client's key can
        # never collide with (or find) another's in the globally unique index.
        order_key = hashlib.sha256(f"{client.id}:{order_key}".encode()).hexdigest()
        lock_client(client.id)
        placed = db.session.scalar(
            sa.select(Invoice).where(Invoice.client_id == client.id, Invoice.order_key == order_key)
        )
        if placed is not None:
            return placed
    if not items:
        raise ValidationError(_("Your cart is empty."), field="cart")
    lines = []
    for item in items:
        product = db.session.get(Product, item.product_id)
        price = product.price_for(item.cycle, client.currency) if product and product.active else None
        if price is None:
            raise ValidationError(_("An item in your cart is no longer available; remove it."), field="cart")
        service = Service(
            client_id=client.id,
            product_id=product.id,
            label=item.label,
            cycle=item.cycle,
            price_minor=price.amount_minor,
            currency=client.currency,
            status=ServiceStatus.PENDING,
        )
        db.session.add(service)
        db.session.flush()
        lines.append(
            LineSpec(
                description=f"{product.name} - {item.label} ({item.cycle.english_label.lower()})",
                unit_price_minor=price.amount_minor,
                service_id=service.id,
            )
        )
    on = today()
    return create_proforma(client, lines, origin=ProformaOrigin.ORDER, issue_date=on, due_date=on, order_key=order_key)


@dataclass(frozen=True)
class Timeline:
    """What happens to a service and when, as the customer sees it."""

    renewal_proforma_on: date | None
    due_on: date | None
    suspension_on: date | None
    termination_on: date | None
    open_proforma: Invoice | None


def billing_days(client: Client) -> tuple[int, int, int]:
    """(renewal days before due, suspend days after, terminate days after) for a client."""
    config = current_app.config
    return (
        client.renewal_days_before if client.renewal_days_before is not None else config["RENEWAL_DAYS_BEFORE"],
        client.suspend_days_after if client.suspend_days_after is not None else config["SUSPEND_DAYS_AFTER"],
        client.terminate_days_after if client.terminate_days_after is not None else config["TERMINATE_DAYS_AFTER"],
    )


def service_timeline(service: Service, client: Client) -> Timeline:
    open_proforma = db.session.scalar(
        sa.select(Invoice)
        .join(InvoiceLine)
        .where(
            InvoiceLine.service_id == service.id,
            Invoice.kind == DocumentKind.PROFORMA,
            Invoice.status == InvoiceStatus.UNPAID,
        )
        .order_by(Invoice.due_date)
        .limit(1)
    )
    due = service.next_due_date
    if due is None or service.status in (ServiceStatus.TERMINATED, ServiceStatus.CANCELLED):
        return Timeline(None, due, None, None, open_proforma)
    before, suspend_after, terminate_after = billing_days(client)
    issued = open_proforma.issue_date if open_proforma is not None else None
    return Timeline(
        renewal_proforma_on=issued or due - timedelta(days=before),
        due_on=due,
        suspension_on=service.suspended_on or due + timedelta(days=suspend_after),
        termination_on=due + timedelta(days=terminate_after),
        open_proforma=open_proforma,
    )


def upcoming_renewals(client_id: int, *, until: date, limit: int = 5) -> list[Service]:
    """A client's running or suspended services due on or before `until`, soonest first."""
    return list(
        db.session.scalars(
            sa.select(Service)
            .where(
                Service.client_id == client_id,
                Service.status.in_([ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED]),
                Service.next_due_date <= until,
            )
            .options(selectinload(Service.product))
            .order_by(Service.next_due_date, Service.id)
            .limit(limit)
        )
    )


def convert_service_prices(client_id: int, currency: str, rate: Decimal | None) -> int:
    """The client's services (not terminated) priced in `currency` from now on (a currency
    change): at `rate` their prices are recalculated half-up, else kept. Returns how many."""
    services = db.session.scalars(
        sa.select(Service).where(Service.client_id == client_id, Service.status != ServiceStatus.TERMINATED)
    ).all()
    for service in services:
        if rate is not None:
            service.price_minor = convert_minor(service.price_minor, service.currency, currency, rate)
        service.currency = currency
    db.session.flush()
    return len(services)


def terminate_client_services(client_id: int, *, on: date) -> list[int]:
    """End every service of a closing client: running and suspended ones are terminated
    on `on`, pending (never started) ones cancelled. The caller holds the client's row
    lock. Returns the ids changed. No notice is sent: the account itself is closing."""
    changed = db.session.scalars(
        sa.update(Service)
        .where(Service.client_id == client_id, Service.status.in_([ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED]))
        .values(status=ServiceStatus.TERMINATED, terminated_on=on)
        .returning(Service.id)
        .execution_options(synchronize_session=False)
    ).all()
    changed += db.session.scalars(
        sa.update(Service)
        .where(Service.client_id == client_id, Service.status == ServiceStatus.PENDING)
        .values(status=ServiceStatus.CANCELLED)
        .returning(Service.id)
        .execution_options(synchronize_session=False)
    ).all()
    return list(changed)
