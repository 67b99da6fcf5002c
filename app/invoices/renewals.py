"""Renewal proformas in bulk, for the billing run: one per client and due date.

Set-based: a batch of clients costs a fixed number of SQL statements, whatever
the number of clients or lines. The proformas are built as checkout builds one
(app.invoices.proformas.build_proforma), billed to each client's default payer.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from app.core.events import emit
from app.core.sql import insert_rows
from app.core.types import utcnow
from app.extensions import db
from app.invoices.models import DocumentKind, Invoice, InvoiceLine, ProformaOrigin, QueuedItem, ServiceRenewal
from app.invoices.numbering import take_numbers
from app.invoices.proformas import LineSpec, ProformaDraft, build_proforma
from app.invoices.services import default_payers, queued_items, reverse_charge_numbers, settle_proforma


def issue_renewal_proformas(run_date: date, lines_by_due: dict[tuple[int, date], list[LineSpec]]) -> list[int]:
    """A renewal proforma issued on `run_date` for each (client id, due date) with its lines;
    the client's queued items go on its first one. Marks each renewed service's period
    (ServiceRenewal), settles those with nothing to pay and announces the others.
    Call with the clients' rows locked. Returns the proformas' ids, in the order given."""
    drafts, items_on = _drafts(run_date, lines_by_due)
    ids = _insert(drafts)
    insert_rows(
        ServiceRenewal.__table__,
        [
            {"service_id": line["service_id"], "period_start": line["period_start"], "proforma_id": invoice_id}
            for invoice_id, draft in zip(ids, drafts, strict=True)
            for line in draft.lines
            if line["service_id"] and line["period_start"]
        ],
    )
    item_updates = [
        {"id": item.id, "invoice_id": invoice_id}
        for invoice_id, items in zip(ids, items_on, strict=True)
        for item in items
    ]
    if item_updates:
        db.session.execute(sa.update(QueuedItem), item_updates)
    free = _settle_free_proformas(ids)  # nothing to pay: no "proforma due" email or SMS
    # Subscribers write their outbox rows in this same transaction.
    if to_pay := [i for i in ids if i not in free]:
        emit("proformas_issued", proforma_ids=to_pay, origin=ProformaOrigin.RENEWAL.value)
    return ids


def _drafts(
    run_date: date, lines_by_due: dict[tuple[int, date], list[LineSpec]]
) -> tuple[list[ProformaDraft], list[list[QueuedItem]]]:
    """The proformas to insert, and the queued items going on each."""
    client_ids = sorted({client_id for client_id, _ in lines_by_due})
    payers = default_payers(client_ids)
    queued = queued_items(client_ids)
    verified = reverse_charge_numbers(payer.buyer for payer in payers.values())
    numbers = iter(take_numbers(DocumentKind.PROFORMA, run_date.year, len(lines_by_due)))
    drafts, items_on = [], []
    for (client_id, due), lines in lines_by_due.items():
        items = queued.pop(client_id, [])
        payer = payers[client_id]
        drafts.append(
            build_proforma(
                payer,
                [*lines, *(LineSpec(item.description, item.amount_minor) for item in items)],
                number=next(numbers),
                origin=ProformaOrigin.RENEWAL,
                issue_date=run_date,
                due_date=due,
                vat_verified=payer.buyer.tax_id in verified,
            )
        )
        items_on.append(items)
    return drafts, items_on


def _insert(drafts: list[ProformaDraft]) -> list[int]:
    """Insert the proformas and their lines (two statements). Returns their ids, in order."""
    # RETURNING gives rows in any order: match them by their unique number.
    id_by_number = dict(insert_rows(Invoice.__table__, [draft.columns for draft in drafts], Invoice.number, Invoice.id))
    ids = [id_by_number[draft.columns["number"]] for draft in drafts]
    insert_rows(
        InvoiceLine.__table__,
        [
            {**line, "invoice_id": invoice_id}
            for invoice_id, draft in zip(ids, drafts, strict=True)
            for line in draft.lines
        ],
    )
    return ids


def _settle_free_proformas(ids: list[int]) -> set[int]:
    """A proforma with nothing to pay (free services) is settled at once. Returns their ids."""
    free = db.session.scalars(sa.select(Invoice).where(Invoice.id.in_(ids), Invoice.total_minor <= 0)).all()
    for proforma in free:
        settle_proforma(proforma, paid_at=utcnow())
    return {proforma.id for proforma in free}
