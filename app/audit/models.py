"""The audit log: one append-only row per thing done, by staff, a client user or the system."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.types import UTCDateTime, utcnow
from app.extensions import db


class AuditEntry(db.Model):
    """Who did what, on which client, from what to what, when and from where.

    Append-only: the database refuses UPDATE and DELETE (triggers, as for the ledger).
    `client_id` is a plain number, not a foreign key: the record outlives the client.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        sa.Index("ix_audit_log_client_id_id", "client_id", "id"),
        sa.Index("ix_audit_log_actor_id", "actor", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_kind: Mapped[str] = mapped_column(sa.String(10))  # "staff", "user", "system"
    actor: Mapped[str] = mapped_column(sa.String(40))  # "staff:2", "user:7", "billing-run"
    action: Mapped[str] = mapped_column(sa.String(60))  # "bank_transfer.approve", "staff.sign_in"
    client_id: Mapped[int | None]
    target: Mapped[str | None] = mapped_column(sa.String(80))  # "bank_transfer:12"
    old_value: Mapped[str | None] = mapped_column(sa.Text)
    new_value: Mapped[str | None] = mapped_column(sa.Text)
    ip: Mapped[str | None] = mapped_column(sa.String(45))
