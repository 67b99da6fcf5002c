"""Outbox rows: each message is stored with the event that caused it, then sent."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.types import UTCDateTime, str_enum, utcnow
from app.extensions import db


class MessageStatus(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"  # no longer true when its turn came (the proforma it asks to pay was paid)


class EmailMessage(db.Model):
    __tablename__ = "email_messages"
    # After commit, core.queue enqueues this job with the new row's id.
    __outbox_job__ = "app.notify.jobs.send_email"
    # The staff profile's Messages tab (newest by id) and the client's archive (by date),
    # a keyset page at a time.
    __table_args__ = (
        sa.Index("ix_email_messages_client_id_id", "client_id", "id"),
        sa.Index("ix_email_messages_client_id_created_at_id", "client_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int | None] = mapped_column(sa.ForeignKey("clients.id"))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    recipients: Mapped[list[str]] = mapped_column(sa.JSON)
    template: Mapped[str] = mapped_column(sa.String(60))
    subject: Mapped[str] = mapped_column(sa.String(255))
    body_text: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[MessageStatus] = mapped_column(str_enum(MessageStatus), default=MessageStatus.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # After a failed attempt: not before this time (the sweeper respects it).
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set while a job is sending it (a lease): no other job takes it until then.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The proforma a "please pay" email is about: if it is paid before the email
    # goes out (a mail outage), the email is cancelled rather than sent.
    pay_invoice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invoices.id"))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SmsStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # handed to the gateway; outcome not yet recorded
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"  # no longer true when its turn came (the proforma was paid, the service is back)


class SmsMessage(db.Model):
    """An SMS in the outbox. Written with the event (renewal proforma, suspension),
    sent after commit by a job; never sent twice."""

    __tablename__ = "sms_messages"
    __outbox_job__ = "app.notify.sms.send_sms"
    __table_args__ = (
        # One SMS per user per event (a re-run of the billing run writes none).
        sa.UniqueConstraint("user_id", "event_key"),
        sa.Index("ix_sms_messages_phone_created_at", "phone", "created_at"),
        sa.Index("ix_sms_messages_client_id_created_at_id", "client_id", "created_at", "id"),  # the archive's order
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    event_key: Mapped[str] = mapped_column(sa.String(80))  # e.g. "renewal:PF-2026-000123"
    phone: Mapped[str] = mapped_column(sa.String(20))  # E.164
    sender: Mapped[str] = mapped_column(sa.String(11))
    body: Mapped[str] = mapped_column(sa.String(640))
    segments: Mapped[int] = mapped_column(default=1)
    status: Mapped[SmsStatus] = mapped_column(str_enum(SmsStatus), default=SmsStatus.QUEUED, index=True)
    provider_id: Mapped[str | None] = mapped_column(sa.String(100))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    # Quiet hours: not before this time (the client's morning).
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InvoiceReminder(db.Model):
    """A reminder stage already sent for an invoice: each stage goes out once."""

    __tablename__ = "invoice_reminders"
    __table_args__ = (sa.UniqueConstraint("invoice_id", "stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoices.id"))
    stage: Mapped[str] = mapped_column(sa.String(20))  # "before_due", "due", "after_due_3"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ServiceNotice(db.Model):
    """A service-status notice already written for a service and its due date (the
    termination warning, the termination notice): each goes out once, however
    often the billing run is re-run."""

    __tablename__ = "service_notices"
    __table_args__ = (sa.UniqueConstraint("service_id", "due_date", "stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(sa.ForeignKey("services.id"))
    due_date: Mapped[date] = mapped_column(sa.Date)  # the unpaid due date the notice is about
    stage: Mapped[str] = mapped_column(sa.String(30))  # "termination_warning", "terminated"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MessageChannel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PORTAL = "portal"  # a notice on the user's dashboard (PortalNotice)


class MessageTemplate(db.Model):
    """A message staff wrote once to send to clients (app.notify.staff_messages): its text is a
    Jinja template rendered in the sandbox, with only the plain values listed there."""

    __tablename__ = "message_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    channel: Mapped[MessageChannel] = mapped_column(str_enum(MessageChannel))
    subject: Mapped[str] = mapped_column(sa.String(255), default="")  # emails only
    body: Mapped[str] = mapped_column(sa.Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id"))


class PortalNotice(db.Model):
    """A message from staff shown on a user's dashboard until they mark it read."""

    __tablename__ = "portal_notices"
    __table_args__ = (sa.Index("ix_portal_notices_user_id_read_at", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    subject: Mapped[str] = mapped_column(sa.String(255))
    body: Mapped[str] = mapped_column(sa.Text)
    sent_by: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PendingNotice(db.Model):
    """A domain event whose messages are still to be rendered (app.notify.pending).

    The billing run writes it in its batch transaction instead of rendering emails
    there; a separate transaction renders the messages and deletes the row, so a
    notice is told exactly once even if the process dies between the two.
    """

    __tablename__ = "pending_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(sa.String(40))
    payload: Mapped[dict] = mapped_column(sa.JSON)  # the event's keyword data (ids and short strings)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
