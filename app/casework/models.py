"""What staff keep on a client: notes (internal) and files (admin-only or client-visible)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.types import UTCDateTime, utcnow
from app.extensions import db
from app.staff.models import Staff


class ClientNote(db.Model):
    """A staff note on a client: internal, never shown to the client. Pinned notes come first
    (on the Notes tab and the Summary)."""

    __tablename__ = "client_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"), index=True)
    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("staff.id"))
    body: Mapped[str] = mapped_column(sa.Text)
    pinned: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    author: Mapped[Staff] = relationship()


class ClientFile(db.Model):
    """A file staff uploaded to a client's profile, stored under UPLOAD_FOLDER/client-files
    with a random name; the client sees it (Documents) only when `client_visible`."""

    __tablename__ = "client_files"
    __table_args__ = (sa.CheckConstraint("size_bytes > 0", name="size_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"), index=True)
    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("staff.id"))
    filename: Mapped[str] = mapped_column(sa.String(255))  # the uploaded name, made safe
    stored_name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    mimetype: Mapped[str] = mapped_column(sa.String(50))
    size_bytes: Mapped[int]
    client_visible: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    uploaded_by: Mapped[Staff] = relationship()
