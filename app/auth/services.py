"""Account operations: sign-up and login. They flush, never commit."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from app.clients.models import Client, ClientKind, User, UserRole
from app.clients.services import find_user_by_email, normalize_email
from app.core.errors import EmailTaken, InvalidCredentials
from app.core.i18n import current_language, offered
from app.core.passwords import hash_password, needs_rehash, verify_password
from app.core.ratelimit import count_wrong_credential, refuse_if_too_many_credential_checks
from app.core.urls import external_url
from app.extensions import db
from app.notify import OWNER_DEFAULT_TYPES
from app.notify.services import queue_email
from app.security.services import credential_account


@dataclass(frozen=True)
class SignUp:
    email: str
    password: str
    name: str
    kind: ClientKind
    country: str
    company_name: str | None = None
    phone: str | None = None  # E.164, already validated
    sms_opt_in: bool = False
    password_hash: str | None = None  # set when the password was hashed earlier (a confirmed sign-up)
    language: str | None = None  # the language the sign-up form was read in: the account's


def register_client(data: SignUp) -> User:
    """Create a client with its owner user and queue the welcome email.

    Raises EmailTaken if a user already has this email.
    """
    email = normalize_email(data.email)
    if find_user_by_email(email) is not None:
        raise EmailTaken()
    client = Client(
        kind=data.kind,
        name=data.name.strip(),
        company_name=(data.company_name or "").strip() or None,
        country=data.country,
        currency=current_app.config["DEFAULT_CURRENCY"],
        # The language the sign-up form was read in becomes the account's.
        language=offered(data.language) or current_language(),
    )
    owner = User(
        client=client,
        role=UserRole.OWNER,
        email=email,
        password_hash=data.password_hash or hash_password(data.password),
        name=data.name.strip(),
        phone=data.phone,
        sms_opt_in=bool(data.sms_opt_in and data.phone),
        notification_types=list(OWNER_DEFAULT_TYPES),
    )
    try:
        with db.session.begin_nested():
            db.session.add_all([client, owner])
    except sa.exc.IntegrityError:
        # Another request registered the same email between our check and insert.
        raise EmailTaken() from None
    queue_email("welcome", to=owner, client=client, login_url=external_url("auth.login"))
    return owner


def authenticate(email: str, password: str) -> User:
    """The active user with these credentials. Raises InvalidCredentials, or
    TooManyCredentialChecks (429) while the account's budget of wrong tries is spent."""
    user = find_user_by_email(email)
    account = credential_account(user) if user else f"email:{normalize_email(email)}"
    refuse_if_too_many_credential_checks(account)
    if not verify_password(user.password_hash if user else None, password) or not user.is_active:
        count_wrong_credential(account)
        raise InvalidCredentials()
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user
