"""Sessions, login history and recovery codes of client users."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.types import UTCDateTime, utcnow
from app.extensions import db


class RecoveryCode(db.Model):
    """A one-time 2FA recovery code, stored hashed."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UserSession(db.Model):
    """A logged-in browser: listed under Security, and can be ended from there."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    user_agent: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "Keep me signed in": the SHA-256 of the secret in this browser's remember cookie (the
    # secret itself is never stored), until when it may restore this session, and the user's
    # security stamp it was given under (a rotated stamp voids it). None: not remembered.
    remember_hash: Mapped[str | None] = mapped_column(sa.String(64))
    remember_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    remember_stamp: Mapped[str | None] = mapped_column(sa.String(32))


class LoginEvent(db.Model):
    """A login attempt of a user: when, from where, with what, and whether it worked."""

    __tablename__ = "login_events"
    __table_args__ = (sa.Index("ix_login_events_user_id_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    succeeded: Mapped[bool]
    reason: Mapped[str | None] = mapped_column(sa.String(40))
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    user_agent: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
