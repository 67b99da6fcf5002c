"""Outbox rows: each message is stored with the event that caused it, then sent."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.types import UTCDateTime, str_enum, utcnow
from app.extensions import db


class MessageStatus(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class EmailMessage(db.Model):
    __tablename__ = "email_messages"
    # After commit, core.queue enqueues this job with the new row's id.
    __outbox_job__ = "app.notify.jobs.send_email"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int | None] = mapped_column(sa.ForeignKey("clients.id"), index=True)
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
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
