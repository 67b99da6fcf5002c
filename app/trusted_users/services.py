"""Trusted users: adding, inviting, editing, suspending and removing them. They flush, never commit."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app

from app.access.policy import PERMISSIONS
from app.clients.models import Client, ProfileChange, User, UserRole, UserStatus, new_security_stamp
from app.clients.services import find_user_by_email, normalize_email
from app.core.errors import DomainError, EmailTaken, ValidationError
from app.core.i18n import _
from app.core.passwords import hash_password
from app.core.signing import InvalidToken, sign, unsign
from app.core.types import utcnow
from app.core.urls import external_url
from app.extensions import db

#: Notifications a trusted user may subscribe to (security mails always go to the owner).
from app.notify import NOTIFICATION_TYPES
from app.notify.models import EmailMessage
from app.notify.services import queue_email
from app.security.models import LoginEvent, RecoveryCode, UserSession

INVITE_SALT = "trusted-user-invite"
INVITE_MAX_AGE = 7 * 24 * 3600


class InvalidInvite(DomainError):
    """An invite link that is forged, expired, already used or no longer wanted."""

    status_code = 400

    def __init__(self, expired: bool = False) -> None:
        if expired:
            message = _("This invitation has expired. Ask the account owner to send you a new one.")
        else:
            message = _(
                "This invitation link is not valid or was already used. "
                "Sign in, or ask the account owner for a new invitation."
            )
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True)
class Access:
    """What a trusted user may do and which notifications they get."""

    permissions: list[str] = field(default_factory=list)
    notification_types: list[str] = field(default_factory=list)

    def checked(self) -> Access:
        """The same access, in a stable order. Raises ValidationError for an unknown name."""
        if unknown := set(self.permissions) - PERMISSIONS.keys():
            raise ValidationError(
                _("Unknown permission: %(names)s.", names=", ".join(sorted(unknown))), field="permissions"
            )
        if unknown := set(self.notification_types) - NOTIFICATION_TYPES.keys():
            raise ValidationError(
                _("Unknown notification: %(names)s.", names=", ".join(sorted(unknown))), field="notification_types"
            )
        return Access(
            [p for p in PERMISSIONS if p in self.permissions],
            [n for n in NOTIFICATION_TYPES if n in self.notification_types],
        )


def invite_max_age() -> int:
    return current_app.config.get("TRUSTED_USER_INVITE_MAX_AGE", INVITE_MAX_AGE)


def trusted_users_of(client_id: int) -> list[User]:
    """The client's trusted users (never the owner), oldest first."""
    return list(
        db.session.scalars(
            sa.select(User).where(User.client_id == client_id, User.role == UserRole.TRUSTED).order_by(User.id)
        )
    )


def find_trusted_user(client_id: int, user_id: int) -> User | None:
    """A trusted user of this client, or None (another client's user, or the owner)."""
    return db.session.scalar(
        sa.select(User).where(User.id == user_id, User.client_id == client_id, User.role == UserRole.TRUSTED)
    )


def add_trusted_user(client: Client, name: str, email: str, password: str | None, access: Access) -> User:
    """Create a trusted user of `client`: with `password`, or (None) invited by email.

    Raises EmailTaken if any user already has this email, ValidationError for an
    unknown permission or notification type.
    """
    access = access.checked()
    email = normalize_email(email)
    if find_user_by_email(email) is not None:
        raise EmailTaken()
    user = User(
        client_id=client.id,
        role=UserRole.TRUSTED,
        email=email,
        name=name.strip(),
        # An invited user has a password nobody knows until they accept.
        password_hash=hash_password(password if password is not None else secrets.token_urlsafe(32)),
        permissions=access.permissions,
        notification_types=access.notification_types,
        invited_at=utcnow() if password is None else None,
    )
    try:
        with db.session.begin_nested():
            db.session.add(user)
    except sa.exc.IntegrityError:
        # Another request took the same email between our check and insert.
        raise EmailTaken() from None
    if password is None:
        send_invite(user)
    return user


def send_invite(user: User) -> EmailMessage:
    """Queue the invite email; a new invite voids the previous link."""
    user.reset_nonce = new_security_stamp()
    user.invited_at = utcnow()
    db.session.flush()
    token = sign({"u": user.id, "n": user.reset_nonce}, salt=INVITE_SALT)
    return queue_email(
        "trusted_user_invite",
        to=user,
        client=user.client,
        owner=user.client.owner,
        accept_url=external_url("trusted_users.accept_invite", token=token),
        valid_days=max(1, invite_max_age() // 86400),
    )


def invited_user(token: str, *, lock: bool = False) -> User:
    """The user an invite token names, if it may still be accepted. Raises InvalidInvite.

    With `lock`, the user's row stays locked until the transaction ends, so two
    requests racing with the same link cannot both use it.
    """
    try:
        payload = unsign(token, salt=INVITE_SALT, max_age=invite_max_age())
        user_id, nonce = int(payload["u"]), str(payload["n"])
    except InvalidToken as exc:
        raise InvalidInvite(expired=exc.expired) from None
    except (KeyError, TypeError, ValueError):
        raise InvalidInvite() from None
    query = sa.select(User).where(User.id == user_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    user = db.session.scalar(query)
    if (
        user is None
        or user.role is not UserRole.TRUSTED
        or user.invited_at is None
        or not secrets.compare_digest(user.reset_nonce, nonce)
        or not user.is_active
    ):
        raise InvalidInvite()
    return user


def accept_invite(token: str, password: str) -> User:
    """Set the invited user's password; the link then stops working. Raises InvalidInvite."""
    user = invited_user(token, lock=True)
    user.password_hash = hash_password(password)
    user.reset_nonce = new_security_stamp()
    user.security_stamp = new_security_stamp()  # a password is set: older email links stop working
    user.invited_at = None
    db.session.flush()
    return user


def update_trusted_user(user: User, name: str, access: Access) -> None:
    """Change a trusted user's name, permissions and notifications. Raises ValidationError."""
    access = access.checked()
    user.name = name.strip()
    user.permissions = access.permissions
    user.notification_types = access.notification_types
    db.session.flush()


def suspend_trusted_user(user: User) -> None:
    """Stop a trusted user from logging in, and end their sessions now."""
    user.status = UserStatus.SUSPENDED
    user.security_stamp = new_security_stamp()
    db.session.flush()


def reactivate_trusted_user(user: User) -> None:
    user.status = UserStatus.ACTIVE
    db.session.flush()


def remove_trusted_user(user: User) -> None:
    """Delete a trusted user, which ends their sessions (the loader finds nobody).

    The account keeps the emails they were sent and the change log, unlinked from
    them; their sessions, login history and recovery codes go.
    """
    for model in (EmailMessage, ProfileChange):
        db.session.execute(sa.update(model).where(model.user_id == user.id).values(user_id=None))
    for model in (UserSession, LoginEvent, RecoveryCode):
        db.session.execute(sa.delete(model).where(model.user_id == user.id))
    db.session.delete(user)
    db.session.flush()
