"""Tax documents never change: refuse any flush that would update or delete one.

This is the ORM layer of the rule; the services check first (with a clear
message) and database triggers (see the migration) refuse raw SQL too.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from app.core.errors import Conflict
from app.core.i18n import _
from app.invoices.models import TAX_DOCUMENTS, Invoice, InvoiceLine


class ImmutableInvoice(Conflict):
    def __init__(self, number: str | None = None) -> None:
        if number:
            message = _(
                "Invoice %(number)s is a tax document and cannot be changed. Corrections are made with a credit note.",
                number=number,
            )
        else:
            message = _(
                "This invoice is a tax document and cannot be changed. Corrections are made with a credit note."
            )
        super().__init__(message)


def _persisted_kind(invoice: Invoice):
    """The kind as stored in the database (not as possibly changed in memory)."""
    history = inspect(invoice).attrs.kind.history
    return history.deleted[0] if history.deleted else invoice.kind


def _check_flush(session: Session, flush_context, instances) -> None:
    with session.no_autoflush:
        _refuse_tax_document_changes(session)
        _seal_new_tax_documents(session)


def _seal_new_tax_documents(session: Session) -> None:
    """A new tax document records how many lines it is issued with; the database accepts no more."""
    for obj in session.new:
        if isinstance(obj, Invoice) and obj.kind in TAX_DOCUMENTS:
            obj.line_count = len(obj.lines)


def _refuse_tax_document_changes(session: Session) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if (
            isinstance(obj, Invoice)
            and inspect(obj).persistent
            and _persisted_kind(obj) in TAX_DOCUMENTS
            and (obj in session.deleted or session.is_modified(obj, include_collections=False))
        ):
            raise ImmutableInvoice(obj.number)
        if isinstance(obj, InvoiceLine) and inspect(obj).persistent:
            invoice = session.get(Invoice, obj.invoice_id) if obj.invoice_id else None
            changed = obj in session.deleted or session.is_modified(obj)
            if changed and invoice is not None and _persisted_kind(invoice) in TAX_DOCUMENTS:
                raise ImmutableInvoice(invoice.number)
    for obj in session.new:
        if isinstance(obj, InvoiceLine) and obj.invoice is not None:
            invoice = obj.invoice
            if inspect(invoice).persistent and _persisted_kind(invoice) in TAX_DOCUMENTS:
                raise ImmutableInvoice(invoice.number)


def init_app(app: Flask) -> None:
    if not event.contains(Session, "before_flush", _check_flush):
        event.listen(Session, "before_flush", _check_flush)
