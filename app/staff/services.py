"""Staff accounts."""

from __future__ import annotations

import sqlalchemy as sa

from app.clients.services import normalize_email
from app.core.errors import EmailTaken, InvalidCredentials
from app.core.passwords import hash_password, verify_password
from app.core.ratelimit import count_wrong_credential, refuse_if_too_many_credential_checks
from app.extensions import db
from app.staff.models import Staff


def create_staff(email: str, name: str, password: str, *, superuser: bool = False) -> Staff:
    """Add a staff member. Raises EmailTaken if the email is in use by staff."""
    email = normalize_email(email)
    if db.session.scalar(sa.select(Staff.id).where(Staff.email == email)) is not None:
        raise EmailTaken()
    staff = Staff(email=email, name=name.strip(), password_hash=hash_password(password), is_superuser=superuser)
    db.session.add(staff)
    db.session.flush()
    return staff


def authenticate_staff(email: str, password: str) -> Staff:
    """The active staff member with these credentials. Raises InvalidCredentials, or
    TooManyCredentialChecks (429) while the account's budget of wrong tries is spent."""
    staff = db.session.scalar(sa.select(Staff).where(Staff.email == normalize_email(email)))
    account = f"staff:{staff.id}" if staff else f"staff-email:{normalize_email(email)}"
    refuse_if_too_many_credential_checks(account)
    if not verify_password(staff.password_hash if staff else None, password) or not staff.is_active:
        count_wrong_credential(account)
        raise InvalidCredentials()
    return staff
