"""The billing account (Client) and the people who log in to it (User)."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.types import UTCDateTime, str_enum, utcnow
from app.extensions import db


class ClientKind(enum.StrEnum):
    PERSON = "person"
    ORGANIZATION = "organization"


class ClientStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"
    ARCHIVED = "archived"
    ANONYMIZED = "anonymized"


class UserRole(enum.StrEnum):
    OWNER = "owner"
    TRUSTED = "trusted"


class UserStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


def new_security_stamp() -> str:
    return secrets.token_hex(16)


class BillingDetails:
    """Who is billed: a person or a legal entity, with its tax ID and address.

    Shared by the client (its default payer) and its saved payers (BillingProfile).
    """

    kind: Mapped[ClientKind] = mapped_column(str_enum(ClientKind))
    name: Mapped[str] = mapped_column(sa.String(120))
    company_name: Mapped[str | None] = mapped_column(sa.String(160))
    tax_id: Mapped[str | None] = mapped_column(sa.String(40))
    address_line1: Mapped[str | None] = mapped_column(sa.String(160))
    address_line2: Mapped[str | None] = mapped_column(sa.String(160))
    city: Mapped[str | None] = mapped_column(sa.String(80))
    region: Mapped[str | None] = mapped_column(sa.String(80))
    postcode: Mapped[str | None] = mapped_column(sa.String(20))
    country: Mapped[str] = mapped_column(sa.String(2))

    @property
    def display_name(self) -> str:
        return self.company_name if self.kind is ClientKind.ORGANIZATION and self.company_name else self.name


class ClientGroup(db.Model):
    """A staff-defined group of clients (e.g. resellers, VIP)."""

    __tablename__ = "client_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)


class Client(BillingDetails, db.Model):
    """The billing account; its id is the client ID shown to the customer."""

    __tablename__ = "clients"
    __table_args__ = (
        sa.CheckConstraint("balance_minor >= 0", name="balance_not_negative"),
        # The staff client list (app/clients/search.py): its name sort and status filter.
        sa.Index("ix_clients_name_id", "name", "id"),
        sa.Index("ix_clients_status", "status"),
        sa.Index("ix_clients_balance_minor_id", "balance_minor", "id"),
        sa.Index("ix_clients_group_id", "group_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[ClientStatus] = mapped_column(str_enum(ClientStatus), default=ClientStatus.ACTIVE)
    group_id: Mapped[int | None] = mapped_column(sa.ForeignKey("client_groups.id"))
    currency: Mapped[str] = mapped_column(sa.String(3))
    # The account's default language (app.core.i18n): its users' unless they chose their own.
    language: Mapped[str] = mapped_column(sa.String(8), default="en")
    timezone: Mapped[str] = mapped_column(sa.String(40), default="Europe/Bucharest")
    # Billing details (the default payer of this account's invoices): BillingDetails.
    # Billing-run settings for this client; None = the global setting.
    renewal_days_before: Mapped[int | None]
    suspend_days_after: Mapped[int | None]
    terminate_days_after: Mapped[int | None]
    # Automation switches for this client; None = the global behaviour (on).
    auto_suspend: Mapped[bool | None]
    send_reminders: Mapped[bool | None]
    send_sms: Mapped[bool | None]
    # Who referred this client (free text until there is an affiliate system), and staff tags.
    affiliate: Mapped[str | None] = mapped_column(sa.String(120))
    tags: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # Profile fields staff made read-only for the client (names of form fields).
    locked_fields: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # Cached sum of the wallet ledger, in minor units of `currency`.
    balance_minor: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A merged client's tombstone: the client it was merged into (app.lifecycle.services.merge_clients).
    # Its old client ID still resolves there; None for every live client.
    merged_into_id: Mapped[int | None] = mapped_column(sa.ForeignKey("clients.id"), index=True)

    group: Mapped[ClientGroup | None] = relationship()
    users: Mapped[list[User]] = relationship(back_populates="client", order_by="User.id")
    merged_into: Mapped[Client | None] = relationship(remote_side=[id])

    @property
    def owner(self) -> User | None:
        return next((u for u in self.users if u.role is UserRole.OWNER), None)


class User(UserMixin, db.Model):
    """A login identity of one client: its owner or a trusted user."""

    __tablename__ = "users"
    __table_args__ = (sa.Index("ix_users_phone", "phone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"), index=True)
    role: Mapped[UserRole] = mapped_column(str_enum(UserRole))
    status: Mapped[UserStatus] = mapped_column(str_enum(UserStatus), default=UserStatus.ACTIVE)
    # Stored lower-cased, so the unique constraint is case-insensitive.
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    name: Mapped[str] = mapped_column(sa.String(120))
    phone: Mapped[str | None] = mapped_column(sa.String(20))  # E.164
    sms_opt_in: Mapped[bool] = mapped_column(default=False)
    # Rotated on password/2FA/email change: ends sessions and voids signed links.
    security_stamp: Mapped[str] = mapped_column(sa.String(32), default=new_security_stamp)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_ip: Mapped[str | None] = mapped_column(sa.String(45))

    # The interface, email and SMS language this user chose; None = their client's.
    language: Mapped[str | None] = mapped_column(sa.String(8))
    avatar_png: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    # Two-factor authentication (TOTP). The last accepted time step refuses a replay.
    # Sealed with app.core.secretbox (AES-GCM keyed from SECRET_KEY): never the plain seed.
    totp_secret: Mapped[str | None] = mapped_column(sa.String(128))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    # Addresses and CIDR ranges this user may log in from; empty = anywhere.
    ip_allowlist: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    login_alerts: Mapped[bool] = mapped_column(default=False)
    # Rotated by each reset request and each use: a reset link works once.
    reset_nonce: Mapped[str] = mapped_column(sa.String(32), default=new_security_stamp)
    # Trusted users: what they may do and which notifications they get.
    permissions: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    notification_types: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    client: Mapped[Client] = relationship(back_populates="users")

    def get_id(self) -> str:
        return f"user:{self.id}:{self.security_stamp}"

    @property
    def has_2fa(self) -> bool:
        return self.totp_enabled_at is not None

    @property
    def is_active(self) -> bool:
        return self.status is UserStatus.ACTIVE and self.client.status is ClientStatus.ACTIVE

    @property
    def is_owner(self) -> bool:
        return self.role is UserRole.OWNER


class ProfileChange(db.Model):
    """The profile change log: who changed which field, from what to what, when, from where."""

    __tablename__ = "profile_changes"
    __table_args__ = (sa.Index("ix_profile_changes_client_id_id", "client_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(sa.String(40))  # "user:7", "staff:2"
    field: Mapped[str] = mapped_column(sa.String(40))
    old_value: Mapped[str | None] = mapped_column(sa.Text)
    new_value: Mapped[str | None] = mapped_column(sa.Text)
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
