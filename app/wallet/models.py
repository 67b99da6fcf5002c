"""The wallet: an append-only ledger, payments, saved cards and bank transfers."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.i18n import _, _l
from app.core.types import UTCDateTime, str_enum, utcnow
from app.extensions import db


class EntryKind(enum.StrEnum):
    TOP_UP = "top_up"
    BANK_TRANSFER = "bank_transfer"
    INVOICE_PAYMENT = "invoice_payment"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"
    REVERSAL = "reversal"

    @property
    def label(self) -> str:
        """The name shown to a reader, in their language (the stored value stays the code)."""
        return str(_ENTRY_LABELS[self.value])


_ENTRY_LABELS = {
    "top_up": _l("Card top-up"),
    "bank_transfer": _l("Bank transfer"),
    "invoice_payment": _l("Invoice payment"),
    "refund": _l("Refund"),
    "adjustment": _l("Adjustment"),
    "reversal": _l("Reversal"),
}


class LedgerEntry(db.Model):
    """One change of a client's balance. Never updated or deleted (a database
    trigger refuses it); a mistake is corrected by a reversal entry."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        sa.Index("ix_ledger_entries_client_id_id", "client_id", "id"),
        sa.Index("ix_ledger_entries_client_id_created_at", "client_id", "created_at"),  # a statement's period
        sa.CheckConstraint("amount_minor <> 0", name="amount_not_zero"),
        sa.CheckConstraint("balance_after_minor >= 0", name="balance_after_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"))
    kind: Mapped[EntryKind] = mapped_column(str_enum(EntryKind))
    amount_minor: Mapped[int]  # signed: credits > 0, debits < 0
    currency: Mapped[str] = mapped_column(sa.String(3))
    balance_after_minor: Mapped[int]
    description: Mapped[str] = mapped_column(sa.String(255))
    # Every entry has a key: a replayed request or callback finds its entry and changes nothing.
    idempotency_key: Mapped[str] = mapped_column(sa.String(120), unique=True)
    actor: Mapped[str] = mapped_column(sa.String(40))  # "user:7", "staff:2", "system"
    payment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payments.id"))
    invoice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invoices.id"))
    bank_transfer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("bank_transfers.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    invoice = relationship("Invoice")


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"


class PaymentDirection(enum.StrEnum):
    IN = "in"
    OUT = "out"


class Payment(db.Model):
    """Money that moved through a gateway (card, bank transfer) or staff."""

    __tablename__ = "payments"
    __table_args__ = (
        sa.UniqueConstraint("gateway", "external_id"),
        sa.CheckConstraint("amount_minor > 0", name="amount_positive"),
        sa.CheckConstraint("fee_minor >= 0", name="fee_not_negative"),
        # The staff profile's Transactions tab: a client's newest payments, a keyset page at a time.
        sa.Index("ix_payments_client_id_id", "client_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"), index=True)
    gateway: Mapped[str] = mapped_column(sa.String(30))
    external_id: Mapped[str | None] = mapped_column(sa.String(100))
    idempotency_key: Mapped[str] = mapped_column(sa.String(120), unique=True)
    direction: Mapped[PaymentDirection] = mapped_column(str_enum(PaymentDirection), default=PaymentDirection.IN)
    amount_minor: Mapped[int]
    fee_minor: Mapped[int] = mapped_column(default=0)
    currency: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[PaymentStatus] = mapped_column(str_enum(PaymentStatus), default=PaymentStatus.PENDING)
    invoice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invoices.id"))
    card_brand: Mapped[str | None] = mapped_column(sa.String(20))
    card_last4: Mapped[str | None] = mapped_column(sa.String(4))
    failure_message: Mapped[str | None] = mapped_column(sa.String(255))
    # A refund (direction OUT): the incoming payment it pays back, and why.
    refund_of_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payments.id"), index=True)
    reason: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SavedCard(db.Model):
    """A card the gateway keeps for us: we store its token, never its number."""

    __tablename__ = "saved_cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"), index=True)
    gateway: Mapped[str] = mapped_column(sa.String(30))
    token: Mapped[str] = mapped_column(sa.String(100), unique=True)
    brand: Mapped[str] = mapped_column(sa.String(20))
    last4: Mapped[str] = mapped_column(sa.String(4))
    exp_month: Mapped[int]
    exp_year: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def label(self) -> str:
        expiry = f"{self.exp_month:02d}/{self.exp_year % 100:02d}"
        return _("%(brand)s •••• %(last4)s (expires %(expiry)s)", brand=self.brand, last4=self.last4, expiry=expiry)


class TransferStatus(enum.StrEnum):
    AWAITING_PROOF = "awaiting_proof"
    PENDING = "pending"  # proof uploaded, staff to check
    APPROVED = "approved"
    REJECTED = "rejected"

    @property
    def label(self) -> str:
        """The name shown to a reader, in their language."""
        return str(_TRANSFER_LABELS[self.value])


_TRANSFER_LABELS = {
    "awaiting_proof": _l("Waiting for your proof"),
    "pending": _l("Being checked"),
    "approved": _l("Credited"),
    "rejected": _l("Rejected"),
}


class BankTransfer(db.Model):
    """A top-up by bank transfer: a reference code, the client's proof, staff's decision."""

    __tablename__ = "bank_transfers"
    __table_args__ = (sa.CheckConstraint("amount_minor > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"), index=True)
    reference: Mapped[str] = mapped_column(sa.String(20), unique=True)
    amount_minor: Mapped[int]
    currency: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[TransferStatus] = mapped_column(
        str_enum(TransferStatus), default=TransferStatus.AWAITING_PROOF, index=True
    )
    proof_path: Mapped[str | None] = mapped_column(sa.String(80))  # random name under instance/uploads
    proof_filename: Mapped[str | None] = mapped_column(sa.String(255))  # as uploaded, shown only
    proof_mimetype: Mapped[str | None] = mapped_column(sa.String(40))
    proof_size: Mapped[int | None]
    received_minor: Mapped[int | None]
    reviewed_by: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejection_reason: Mapped[str | None] = mapped_column(sa.String(255))
    payment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payments.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
