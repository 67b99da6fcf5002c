"""A change one staff member asked for and another must approve (four-eyes)."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.types import UTCDateTime, str_enum, utcnow
from app.extensions import db


class ApprovalStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class ApprovalRequest(db.Model):
    """What was asked (`kind` and its `payload`, run by the kind's registered function once
    approved), for which client and how much, by whom, and what the second person decided."""

    __tablename__ = "approval_requests"
    __table_args__ = (sa.Index("ix_approval_requests_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40))  # "wallet.adjust"
    client_id: Mapped[int | None] = mapped_column(sa.ForeignKey("clients.id"), index=True)
    payload: Mapped[dict] = mapped_column(sa.JSON)
    amount_minor: Mapped[int | None]
    currency: Mapped[str | None] = mapped_column(sa.String(3))
    summary: Mapped[str] = mapped_column(sa.String(255))  # what the approver reads
    reason: Mapped[str] = mapped_column(sa.String(255))
    status: Mapped[ApprovalStatus] = mapped_column(str_enum(ApprovalStatus), default=ApprovalStatus.PENDING)
    # The requester's form key: a double submit finds the first request and asks nothing twice.
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(120), unique=True)
    requested_by: Mapped[int] = mapped_column(sa.ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(sa.String(255))

    def is_expired(self, now: datetime) -> bool:
        """Still pending but past its time (marked expired when someone next touches it)."""
        return self.status is ApprovalStatus.EXPIRED or (
            self.status is ApprovalStatus.PENDING and self.expires_at <= now
        )
