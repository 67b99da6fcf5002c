"""The daily billing run: renewal proformas, suspensions and terminations.

Set-based: each batch of clients costs a fixed number of SQL statements,
whatever the number of services. Idempotent: a service gets one renewal
proforma per period (a unique row in service_renewals), and suspension and
termination only move services that are not there yet, so running the same
date twice changes nothing the second time.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app

from app.account.models import Client, ClientStatus
from app.core.events import emit
from app.core.sql import add_days
from app.core.types import utcnow
from app.extensions import db
from app.hosting.lifecycle import cancel_ordered_services, suspend_overdue_services, terminate_long_overdue_services
from app.hosting.models import BillingCycle, Product, Service, ServiceGroup, ServiceStatus
from app.invoices.models import (
    BillingProfile,
    BillingRun,
    DocumentKind,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    ProformaOrigin,
    QueuedItem,
    ServiceRenewal,
)
from app.invoices.numbering import take_numbers
from app.invoices.services import BuyerDetails, buyer_columns, cancel_abandoned_orders, settle_proforma
from app.invoices.tax import tax_amount, tax_treatment
from app.invoices.vies import verified_numbers

_BUYER_COLUMNS = (
    "kind",
    "name",
    "company_name",
    "tax_id",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postcode",
    "country",
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
    from app.notify.handlers import send_invoice_reminders, send_termination_warnings

    result.suspended_ids = suspend_overdue_services(run_date, past_termination=True)
    result.terminated_ids, result.cancelled_proformas = terminate_long_overdue_services(run_date)
    db.session.commit()
    result.cancelled_orders = cancel_abandoned_orders(run_date)
    cancel_ordered_services(result.cancelled_orders)
    db.session.commit()
    result.proforma_ids = create_renewal_proformas(run_date, batch_clients=batch_clients)
    result.suspended_ids += suspend_overdue_services(run_date)
    db.session.commit()
    result.termination_warnings = send_termination_warnings(run_date)
    db.session.commit()
    result.reminders = send_invoice_reminders(run_date)
    db.session.commit()
    run = db.session.get(BillingRun, run.id)
    run.finished_at = utcnow()
    run.proformas_created = len(result.proforma_ids)
    run.services_suspended = len(result.suspended_ids)
    run.services_terminated = len(result.terminated_ids)
    db.session.commit()
    return result


def _setting(column, config_key: str):
    """The client's own value of a billing setting, else the global one (SQL)."""
    return sa.func.coalesce(column, current_app.config[config_key])


# --- renewals ------------------------------------------------------------------------


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


def create_renewal_proformas(run_date: date, *, batch_clients: int) -> list[int]:
    """One renewal proforma per client and due date, for every service entering
    its renewal window. Commits after each batch of clients. Returns the ids."""
    created: list[int] = []
    last_client_id = 0
    while True:
        client_ids = (
            _renewal_candidates(run_date)
            .with_only_columns(Service.client_id)
            .where(Service.client_id > last_client_id)
            .group_by(Service.client_id)
            .order_by(Service.client_id)
            .limit(batch_clients)
        ).subquery()
        # Lock the batch's clients (in id order, as payments and checkouts lock a
        # client first), then read their services: a concurrent run or checkout
        # waits, and what it committed meanwhile is seen below.
        locked = db.session.scalars(
            sa.select(Client.id)
            .where(Client.id.in_(sa.select(client_ids.c.client_id)))
            .order_by(Client.id)
            .with_for_update()
        ).all()
        if not locked:
            return created
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
            .where(Service.client_id.in_(locked))
            .order_by(Service.client_id, Service.next_due_date, Service.id)
        ).all()
        last_client_id = locked[-1]
        if not rows:
            db.session.commit()
            continue
        ids = _create_batch(run_date, rows)
        free = _settle_free_proformas(ids)  # nothing to pay: no "proforma due" email or SMS
        # Subscribers write their outbox rows in this same transaction.
        if to_pay := [i for i in ids if i not in free]:
            emit("proformas_issued", proforma_ids=to_pay, origin=ProformaOrigin.RENEWAL.value)
        db.session.commit()
        created.extend(ids)


def _settle_free_proformas(ids: list[int]) -> set[int]:
    """A proforma with nothing to pay (free services) is settled at once. Returns their ids."""

    free = db.session.scalars(sa.select(Invoice).where(Invoice.id.in_(ids), Invoice.total_minor <= 0)).all()
    for proforma in free:
        settle_proforma(proforma, paid_at=utcnow())
    return {proforma.id for proforma in free}


def _payers(client_ids: list[int]) -> dict[int, tuple[int, dict, str]]:
    """Default payer (id, buyer fields) and currency per client; missing payers are created."""
    rows = db.session.execute(
        sa.select(Client, BillingProfile)
        .outerjoin(BillingProfile, sa.and_(BillingProfile.client_id == Client.id, BillingProfile.is_default))
        .where(Client.id.in_(client_ids))
    ).all()
    missing = [client for client, payer in rows if payer is None]
    payers = {client.id: payer for client, payer in rows if payer is not None}
    if missing:
        # Rows come back in any order (batched RETURNING): match them by client.
        new = db.session.scalars(
            sa.insert(BillingProfile).returning(BillingProfile).execution_options(render_nulls=True),
            [{"client_id": c.id, "is_default": True, **{k: getattr(c, k) for k in _BUYER_COLUMNS}} for c in missing],
        ).all()
        payers.update({p.client_id: p for p in new})
    currency = {client.id: client.currency for client, _ in rows}
    return {
        cid: (payer.id, {k: getattr(payer, k) for k in _BUYER_COLUMNS}, currency[cid]) for cid, payer in payers.items()
    }


def _create_batch(run_date: date, rows) -> list[int]:
    """Insert the proformas, lines and renewal markers for one batch of candidate services."""
    config = current_app.config
    groups: dict[tuple[int, date], list] = defaultdict(list)
    for row in rows:
        groups[(row.client_id, row.next_due_date)].append(row)
    client_ids = sorted({client_id for client_id, _ in groups})
    payers = _payers(client_ids)
    queued = defaultdict(list)
    for item in db.session.scalars(
        sa.select(QueuedItem)
        .where(QueuedItem.client_id.in_(client_ids), QueuedItem.invoice_id.is_(None))
        .order_by(QueuedItem.id)
    ):
        queued[item.client_id].append(item)

    # Reverse charge only for VAT numbers the EU VIES register confirmed (app.invoices.vies).
    verified = verified_numbers({buyer["tax_id"] for _, buyer, _ in payers.values() if buyer["tax_id"]})
    numbers = iter(take_numbers(DocumentKind.PROFORMA, run_date.year, len(groups)))
    invoice_rows, line_rows, queued_for = [], [], []
    for (client_id, due), services in groups.items():
        payer_id, buyer, currency = payers[client_id]
        # Lines of one service group stay together on the invoice.
        services.sort(key=lambda s: ("" if s.hide_on_invoice else s.group_name or "", s.id))
        lines = [
            {
                "description": f"{s.product_name} - {s.label} ({s.next_due_date:%d.%m.%Y} - {_last_day(s):%d.%m.%Y})",
                "group_name": None if s.hide_on_invoice else s.group_name,
                "service_id": s.id,
                "period_start": s.next_due_date,
                "period_end": BillingCycle(s.cycle).period_end(s.next_due_date, s.billing_day),
                "quantity": 1,
                "unit_price_minor": s.price_minor,
                "amount_minor": s.price_minor,
            }
            for s in services
        ]
        # Queued items go on the client's first proforma of this run.
        items = queued.pop(client_id, [])
        lines += [
            {
                "description": i.description,
                "quantity": 1,
                "unit_price_minor": i.amount_minor,
                "amount_minor": i.amount_minor,
            }
            for i in items
        ]
        treatment = tax_treatment(
            buyer_kind=buyer["kind"],
            buyer_country=buyer["country"],
            buyer_tax_id=buyer["tax_id"],
            seller_country=config["SELLER"]["country"],
            rates=config["VAT_RATES"],
            vat_verified=buyer["tax_id"] in verified,
        )
        subtotal = sum(line["amount_minor"] for line in lines)
        tax = tax_amount(subtotal, treatment.rate_bp)
        invoice_rows.append(
            {
                "client_id": client_id,
                "kind": DocumentKind.PROFORMA,
                "number": next(numbers),
                "status": InvoiceStatus.UNPAID,
                "origin": ProformaOrigin.RENEWAL,
                "currency": currency,
                "issue_date": run_date,
                "due_date": due,
                "subtotal_minor": subtotal,
                "tax_minor": tax,
                "total_minor": subtotal + tax,
                "amount_paid_minor": 0,
                "tax_mode": treatment.mode,
                "tax_rate_bp": treatment.rate_bp,
                "tax_note": treatment.note,
                "payer_id": payer_id,
                "seller": dict(config["SELLER"]),
                "created_at": utcnow(),
                **buyer_columns(BuyerDetails(**buyer)),
            }
        )
        line_rows.append(lines)
        queued_for.append(items)

    # Batched RETURNING gives rows in any order: match them by their unique number.
    id_by_number = dict(
        db.session.execute(
            # render_nulls: rows with None in different columns still go in one statement.
            sa.insert(Invoice).returning(Invoice.number, Invoice.id).execution_options(render_nulls=True),
            invoice_rows,
        ).all()
    )
    invoice_ids = [id_by_number[row["number"]] for row in invoice_rows]
    db.session.execute(
        sa.insert(InvoiceLine).execution_options(render_nulls=True),
        [
            {**line, "invoice_id": invoice_id, "position": position}
            for invoice_id, lines in zip(invoice_ids, line_rows, strict=True)
            for position, line in enumerate(lines, start=1)
        ],
    )
    db.session.execute(
        sa.insert(ServiceRenewal),
        [
            {
                "service_id": line["service_id"],
                "period_start": line["period_start"],
                "proforma_id": invoice_id,
            }
            for invoice_id, lines in zip(invoice_ids, line_rows, strict=True)
            for line in lines
            if line.get("service_id")
        ],
    )
    item_updates = [
        {"id": item.id, "invoice_id": invoice_id}
        for invoice_id, items in zip(invoice_ids, queued_for, strict=True)
        for item in items
    ]
    if item_updates:
        db.session.execute(sa.update(QueuedItem), item_updates)
    return list(invoice_ids)


def _last_day(row) -> date:
    return BillingCycle(row.cycle).period_end(row.next_due_date, row.billing_day) - timedelta(days=1)
