"""Staff: the hosting company's people who run the admin, their roles and sign-ins."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clients.models import User, new_security_stamp
from app.core.types import UTCDateTime, utcnow
from app.extensions import db
from app.staff.privileges import PRIVILEGES

staff_role_members = sa.Table(
    "staff_role_members",
    db.metadata,
    sa.Column("staff_id", sa.ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("role_id", sa.ForeignKey("staff_roles.id", ondelete="CASCADE"), primary_key=True),
)


class StaffRole(db.Model):
    """A named group of privileges (app.staff.privileges); a staff member may hold several."""

    __tablename__ = "staff_roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    privileges: Mapped[list[str]] = mapped_column(sa.JSON, default=list)


class Staff(UserMixin, db.Model):
    __tablename__ = "staff"
    # The staff list's order and keyset (app/admin/staff_pages.py).
    __table_args__ = (sa.Index("ix_staff_name_id", "name", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    # Empty until an invited staff member chooses a password (no password verifies against it).
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(default=True)
    # Holds every privilege, whatever the roles say (the first account, made by create-staff).
    is_superuser: Mapped[bool] = mapped_column(default=False)
    security_stamp: Mapped[str] = mapped_column(sa.String(32), default=new_security_stamp)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_ip: Mapped[str | None] = mapped_column(sa.String(45))
    # Two-factor authentication (TOTP), sealed with app.core.secretbox like a client user's.
    totp_secret: Mapped[str | None] = mapped_column(sa.String(128))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)

    roles: Mapped[list[StaffRole]] = relationship(secondary=staff_role_members, order_by=StaffRole.name)

    def get_id(self) -> str:
        return f"staff:{self.id}:{self.security_stamp}"

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def has_2fa(self) -> bool:
        return self.totp_enabled_at is not None

    @property
    def privileges(self) -> frozenset[str]:
        """What this staff member may do: every privilege for a superuser, else their roles'."""
        if self.is_superuser:
            return frozenset(PRIVILEGES)
        return frozenset(p for role in self.roles for p in role.privileges if p in PRIVILEGES)

    def has_privilege(self, privilege: str) -> bool:
        return privilege in self.privileges


class StaffRecoveryCode(db.Model):
    """A one-time 2FA recovery code of a staff member, stored hashed."""

    __tablename__ = "staff_recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffLoginEvent(db.Model):
    """A staff sign-in attempt, good or bad: who (or which email was tried), how, from where."""

    __tablename__ = "staff_login_events"
    __table_args__ = (sa.Index("ix_staff_login_events_staff_id_id", "staff_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id"))
    email: Mapped[str] = mapped_column(sa.String(254))
    succeeded: Mapped[bool]
    # "password", "totp", "recovery"; on failure why: "wrong_password", "wrong_code", "inactive"...
    reason: Mapped[str | None] = mapped_column(sa.String(40))
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    user_agent: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Impersonation(db.Model):
    """A staff member's support access to a client's area ("login as client"): time-boxed,
    with a reason. Its id is kept in the staff member's Flask session; while it is live
    (not ended, before ends_at, the staff member still active and holding the privilege)
    the client area shows that browser the client's user (app.security.signin)."""

    __tablename__ = "impersonations"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("staff.id"), index=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(sa.String(500))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Why it ended: "back to the admin", "time is up", "privilege removed", "signed out"...
    end_reason: Mapped[str | None] = mapped_column(sa.String(40))
    ip: Mapped[str | None] = mapped_column(sa.String(45))

    staff: Mapped[Staff] = relationship()
    user: Mapped[User] = relationship()
