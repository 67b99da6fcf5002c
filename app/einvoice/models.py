"""Each tax document's report to ANAF (RO e-Factura): its XML, where it stands, what went wrong."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.types import UTCDateTime, str_enum, utcnow
from app.extensions import db


class EInvoiceState(enum.StrEnum):
    NEW = "new"  # written with the document; the job builds and checks its XML
    INVALID = "invalid"  # broke a rule of the schema, EN 16931 or CIUS-RO: never sent
    QUEUED = "queued"  # valid, to upload
    UNCERTAIN = "uncertain"  # an upload got no answer: looked for in ANAF's messages before any new upload
    PROCESSING = "processing"  # uploaded (ANAF's index known), waiting for its verdict
    ACCEPTED = "accepted"  # ANAF accepted it: the signed ZIP is stored
    REJECTED = "rejected"  # ANAF refused it, with its errors


#: States a job still has work in.
ACTIVE = (EInvoiceState.NEW, EInvoiceState.QUEUED, EInvoiceState.UNCERTAIN, EInvoiceState.PROCESSING)


class EInvoice(db.Model):
    """One tax invoice's or credit note's report to ANAF's e-Factura system (SPV)."""

    __tablename__ = "einvoices"
    # After commit, core.queue enqueues this job with the new row's id.
    __outbox_job__ = "app.einvoice.jobs.advance_einvoice"
    __table_args__ = (sa.Index("ix_einvoices_state_next_attempt_at", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoices.id"), unique=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"), index=True)
    number: Mapped[str] = mapped_column(sa.String(32))  # the document's, to list without a join
    b2c: Mapped[bool] = mapped_column(default=False)  # a private buyer: ANAF's uploadb2c
    state: Mapped[EInvoiceState] = mapped_column(str_enum(EInvoiceState), default=EInvoiceState.NEW)
    # The last day to report it: five working days after the document's date (app.einvoice.deadline).
    deadline: Mapped[date] = mapped_column(sa.Date)
    xml: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    # The broken rules: [{"rule", "location", "field", "text"}], or ANAF's errors: [{"text"}].
    failures: Mapped[list[dict]] = mapped_column(sa.JSON, default=list)
    upload_index: Mapped[str | None] = mapped_column(sa.String(40), index=True)  # ANAF's index_incarcare
    download_id: Mapped[str | None] = mapped_column(sa.String(40))  # id_descarcare of its answer
    signed_zip: Mapped[bytes | None] = mapped_column(sa.LargeBinary)  # ANAF's answer, signed by the ministry
    attempts: Mapped[int] = mapped_column(default=0)  # uploads and questions to ANAF that failed to connect
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when the last upload began
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # accepted or rejected by ANAF
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set while a job works on it (a lease): no other job takes it until then.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
