"""Proformas, tax invoices and credit notes; their lines, numbering and payers."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clients.models import BillingDetails, ClientKind
from app.core.i18n import _l
from app.core.types import UTCDateTime, str_enum, utcnow
from app.extensions import db


class DocumentKind(enum.StrEnum):
    PROFORMA = "proforma"
    TAX_INVOICE = "tax_invoice"
    CREDIT_NOTE = "credit_note"

    @property
    def label(self) -> str:
        """The name shown to a reader, in their language."""
        return str(_KIND_LABELS[self.value])


_KIND_LABELS = {"proforma": _l("Proforma"), "tax_invoice": _l("Tax invoice"), "credit_note": _l("Credit note")}


#: Legal documents: once written they never change.
TAX_DOCUMENTS = (DocumentKind.TAX_INVOICE, DocumentKind.CREDIT_NOTE)


class InvoiceStatus(enum.StrEnum):
    UNPAID = "unpaid"
    PAID = "paid"
    CANCELLED = "cancelled"
    ISSUED = "issued"  # credit notes

    @property
    def label(self) -> str:
        """The name shown to a reader, in their language."""
        return str(_STATUS_LABELS[self.value])


_STATUS_LABELS = {"unpaid": _l("Unpaid"), "paid": _l("Paid"), "cancelled": _l("Cancelled"), "issued": _l("Issued")}


class ProformaOrigin(enum.StrEnum):
    ORDER = "order"  # the client placed an order
    RENEWAL = "renewal"  # the billing run generated it for a due service
    MANUAL = "manual"  # staff wrote it by hand (admin.invoice_new)

    @property
    def label(self) -> str:
        """How the proforma came about, in the reader's language."""
        return str(_ORIGIN_LABELS[self.value])


_ORIGIN_LABELS = {"order": _l("order"), "renewal": _l("renewal"), "manual": _l("manual")}


class TaxMode(enum.StrEnum):
    STANDARD = "standard"
    REVERSE_CHARGE = "reverse_charge"
    OUTSIDE_SCOPE = "outside_scope"


class BillingProfile(BillingDetails, db.Model):
    """A saved payer: the person or legal entity a client's invoices can be billed to."""

    __tablename__ = "billing_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"), index=True)
    is_default: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Invoice(db.Model):
    """A proforma (payment request), tax invoice or credit note.

    Tax invoices and credit notes are immutable: an ORM guard refuses to flush a
    change and database triggers refuse any UPDATE or DELETE of them or their
    lines, and any line added after issue.
    """

    __tablename__ = "invoices"
    __table_args__ = (
        sa.Index("ix_invoices_client_id_kind_status", "client_id", "kind", "status"),
        # The staff profile's Invoices and Orders tabs: a client's newest documents, a keyset page at a time.
        sa.Index("ix_invoices_client_id_id", "client_id", "id"),
        sa.Index("ix_invoices_client_id_issue_date_id", "client_id", "issue_date", "id"),  # the list's keyset order
        # An index, not a constraint: adding it needs no table rebuild (which would drop triggers on SQLite).
        sa.Index("uq_invoices_order_key", "order_key", unique=True),
        sa.CheckConstraint("total_minor = subtotal_minor + tax_minor", name="total_adds_up"),
        sa.CheckConstraint("amount_paid_minor >= 0", name="paid_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"))
    kind: Mapped[DocumentKind] = mapped_column(str_enum(DocumentKind))
    number: Mapped[str] = mapped_column(sa.String(32), unique=True)
    status: Mapped[InvoiceStatus] = mapped_column(str_enum(InvoiceStatus))
    origin: Mapped[ProformaOrigin | None] = mapped_column(str_enum(ProformaOrigin))
    currency: Mapped[str] = mapped_column(sa.String(3))
    issue_date: Mapped[date] = mapped_column(sa.Date)
    due_date: Mapped[date] = mapped_column(sa.Date)
    subtotal_minor: Mapped[int] = mapped_column(default=0)
    tax_minor: Mapped[int] = mapped_column(default=0)
    total_minor: Mapped[int] = mapped_column(default=0)
    amount_paid_minor: Mapped[int] = mapped_column(default=0)
    tax_mode: Mapped[TaxMode] = mapped_column(str_enum(TaxMode))
    tax_rate_bp: Mapped[int] = mapped_column(default=0)  # basis points: 2100 = 21%
    tax_note: Mapped[str | None] = mapped_column(sa.String(255))
    # Who is billed: a snapshot, so later profile edits never change a document.
    payer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("billing_profiles.id"))
    buyer_kind: Mapped[ClientKind] = mapped_column(str_enum(ClientKind))
    buyer_name: Mapped[str] = mapped_column(sa.String(120))
    buyer_company: Mapped[str | None] = mapped_column(sa.String(160))
    buyer_tax_id: Mapped[str | None] = mapped_column(sa.String(40))
    buyer_address_line1: Mapped[str | None] = mapped_column(sa.String(160))
    buyer_address_line2: Mapped[str | None] = mapped_column(sa.String(160))
    buyer_city: Mapped[str | None] = mapped_column(sa.String(80))
    buyer_region: Mapped[str | None] = mapped_column(sa.String(80))
    buyer_postcode: Mapped[str | None] = mapped_column(sa.String(20))
    buyer_country: Mapped[str] = mapped_column(sa.String(2))
    seller: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    # Tax invoice: the proforma it was issued from. Credit note: the invoice it corrects.
    source_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invoices.id"), index=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Credit note: why it was issued (staff's reason, or the refund's).
    credit_reason: Mapped[str | None] = mapped_column(sa.String(255))
    # A checkout's idempotency key: a double submit places one order.
    order_key: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Tax documents: how many lines the document was issued with. Set at issue by
    # the ORM guard; a trigger refuses a line beyond it (and any UPDATE freezes it).
    line_count: Mapped[int] = mapped_column(default=0, server_default="0")

    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", order_by="InvoiceLine.position", cascade="all, delete-orphan"
    )
    source: Mapped[Invoice | None] = relationship(remote_side=[id])

    @property
    def is_tax_document(self) -> bool:
        return self.kind in TAX_DOCUMENTS

    @property
    def balance_due_minor(self) -> int:
        return max(self.total_minor - self.amount_paid_minor, 0) if self.status is InvoiceStatus.UNPAID else 0

    @property
    def buyer_display_name(self) -> str:
        if self.buyer_kind is ClientKind.ORGANIZATION and self.buyer_company:
            return self.buyer_company
        return self.buyer_name


class InvoiceLine(db.Model):
    __tablename__ = "invoice_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoices.id"), index=True)
    position: Mapped[int]
    description: Mapped[str] = mapped_column(sa.String(255))
    group_name: Mapped[str | None] = mapped_column(sa.String(80))
    service_id: Mapped[int | None] = mapped_column(sa.ForeignKey("services.id"), index=True)
    period_start: Mapped[date | None] = mapped_column(sa.Date)
    period_end: Mapped[date | None] = mapped_column(sa.Date)
    quantity: Mapped[int] = mapped_column(default=1)
    unit_price_minor: Mapped[int]
    amount_minor: Mapped[int]
    # The line's own VAT rate (basis points) when a document has two rates; None: the
    # document's tax_rate_bp (every line before e-invoicing, and most since).
    tax_rate_bp: Mapped[int | None]
    # Credit note line: the invoice line it credits (None for an adjustment by amount).
    credited_line_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invoice_lines.id"))

    invoice: Mapped[Invoice] = relationship(back_populates="lines")


class InvoiceSequence(db.Model):
    """The last number used in a series and year; locked while a number is taken,
    so numbers are gapless and unique."""

    __tablename__ = "invoice_sequences"

    series: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last_number: Mapped[int] = mapped_column(default=0)


class ServiceRenewal(db.Model):
    """One renewal proforma per service and period: what makes the billing run idempotent."""

    __tablename__ = "service_renewals"
    __table_args__ = (sa.UniqueConstraint("service_id", "period_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(sa.ForeignKey("services.id"))
    period_start: Mapped[date] = mapped_column(sa.Date)
    proforma_id: Mapped[int] = mapped_column(sa.ForeignKey("invoices.id"), index=True)


class QueuedItem(db.Model):
    """An item staff queued for the client's next proforma."""

    __tablename__ = "queued_invoice_items"
    __table_args__ = (sa.CheckConstraint("amount_minor > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"), index=True)
    description: Mapped[str] = mapped_column(sa.String(255))
    amount_minor: Mapped[int]
    invoice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invoices.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InvoicePdf(db.Model):
    """The PDF of a tax document, rendered once when first asked for and kept."""

    __tablename__ = "invoice_pdfs"

    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoices.id"), primary_key=True)
    content: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BillingRun(db.Model):
    """A record of each billing run and what it did."""

    __tablename__ = "billing_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_date: Mapped[date] = mapped_column(sa.Date, index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    proformas_created: Mapped[int] = mapped_column(default=0)
    services_suspended: Mapped[int] = mapped_column(default=0)
    services_terminated: Mapped[int] = mapped_column(default=0)


class VatCheckStatus(enum.StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    UNKNOWN = "unknown"  # the register could not answer (VIES or a member state down): ask again later


class VatCheck(db.Model):
    """One answer of the EU VIES register about a VAT number (the latest one counts).

    Reverse charge applies only while the latest answer for the buyer's number is valid.
    """

    __tablename__ = "vat_checks"
    __table_args__ = (sa.Index("ix_vat_checks_number_checked_at", "country", "number", "checked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    country: Mapped[str] = mapped_column(sa.String(2))  # the VAT prefix (EL for Greece)
    number: Mapped[str] = mapped_column(sa.String(20))  # without the prefix
    status: Mapped[VatCheckStatus] = mapped_column(str_enum(VatCheckStatus))
    name: Mapped[str | None] = mapped_column(sa.String(255))
    address: Mapped[str | None] = mapped_column(sa.String(500))
    consultation_number: Mapped[str | None] = mapped_column(sa.String(60))
    error: Mapped[str | None] = mapped_column(sa.String(200))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def vat_number(self) -> str:
        return self.country + self.number
