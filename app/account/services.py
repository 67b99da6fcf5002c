"""Account operations: sign-up and login. They flush, never commit."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from app.account.models import Client, ClientKind, User, UserRole
from app.account.passwords import hash_password, needs_rehash, verify_password
from app.core.ratelimit import count_wrong_credential, refuse_if_too_many_credential_checks
from app.core.types import utcnow
from app.core.urls import external_url
from app.errors import DomainError, EmailTaken
from app.extensions import db
from app.notify import OWNER_DEFAULT_TYPES
from app.notify.email import queue_email


class InvalidCredentials(DomainError):
    """Wrong email or password; one message for both, so emails can't be probed."""

    status_code = 401

    def __init__(self) -> None:
        super().__init__("The email or password is incorrect.")


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


def credential_account(user: User) -> str:
    """The key of a user's one budget of wrong passwords and codes (app.core.ratelimit)."""
    return f"user:{user.id}"


def check_password(user: User, password: str) -> bool:
    """Whether `password` is the user's, counted against the account's budget of wrong
    tries. Raises TooManyCredentialChecks (429) while that budget is spent."""
    refuse_if_too_many_credential_checks(credential_account(user))
    if verify_password(user.password_hash, password):
        return True
    count_wrong_credential(credential_account(user))
    return False


def normalize_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalize_email(email)))


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
        language=current_app.config["DEFAULT_LANGUAGE"],
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
    queue_email("welcome", to=owner, client=client, login_url=external_url("account.login"))
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


def record_login(identity, ip: str | None) -> None:
    """Remember when and from where a user or staff member last logged in."""
    identity.last_login_at = utcnow()
    identity.last_login_ip = ip


def lock_client(client_id: int) -> Client:
    """The client row, locked until the transaction ends (SELECT ... FOR UPDATE).

    Every change of a client's money happens under this lock. On SQLite, which
    has no row locks, it takes the database's write lock (see app.core.sql).
    """
    return db.session.execute(
        sa.select(Client).where(Client.id == client_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()


def dashboard_counts(client_id: int) -> dict[str, int]:
    """What the dashboard summarizes: services, unpaid proformas and the amount due."""
    from app.hosting.models import Service, ServiceStatus
    from app.invoices.models import DocumentKind, Invoice, InvoiceStatus

    services = db.session.execute(
        sa.select(Service.status, sa.func.count()).where(Service.client_id == client_id).group_by(Service.status)
    ).all()
    by_status = {status: count for status, count in services}
    unpaid = db.session.execute(
        sa.select(
            sa.func.count(), sa.func.coalesce(sa.func.sum(Invoice.total_minor - Invoice.amount_paid_minor), 0)
        ).where(
            Invoice.client_id == client_id,
            Invoice.kind == DocumentKind.PROFORMA,
            Invoice.status == InvoiceStatus.UNPAID,
        )
    ).one()
    return {
        "active_services": by_status.get(ServiceStatus.ACTIVE, 0),
        "suspended_services": by_status.get(ServiceStatus.SUSPENDED, 0),
        "pending_services": by_status.get(ServiceStatus.PENDING, 0),
        "unpaid_invoices": unpaid[0],
        "amount_due_minor": unpaid[1],
        "trusted_users": db.session.scalar(
            sa.select(sa.func.count(User.id)).where(User.client_id == client_id, User.role == UserRole.TRUSTED)
        ),
    }
