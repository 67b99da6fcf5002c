"""Staff accounts."""

from __future__ import annotations

import sqlalchemy as sa

from app.audit import services as audit
from app.audit.services import record
from app.clients.services import normalize_email
from app.core import totp
from app.core.actors import Actor
from app.core.errors import EmailTaken, InvalidCredentials, ValidationError
from app.core.passwords import hash_password, verify_password
from app.core.ratelimit import count_wrong_credential, refuse_if_too_many_credential_checks
from app.core.secretbox import SealBroken, open_sealed, seal
from app.core.types import utcnow
from app.extensions import db
from app.staff.models import Impersonation, Staff, StaffLoginEvent, StaffRecoveryCode, StaffRole
from app.staff.privileges import DEFAULT_ROLES, LOGIN_AS_CLIENT


def create_staff(email: str, name: str, password: str, *, superuser: bool = False) -> Staff:
    """Add a staff member. Raises EmailTaken if the email is in use by staff."""
    email = normalize_email(email)
    if db.session.scalar(sa.select(Staff.id).where(Staff.email == email)) is not None:
        raise EmailTaken()
    staff = Staff(email=email, name=name.strip(), password_hash=hash_password(password), is_superuser=superuser)
    db.session.add(staff)
    db.session.flush()
    return staff


def role_named(name: str) -> StaffRole:
    """The role called `name`; a default role (privileges.DEFAULT_ROLES) is made the first
    time it is asked for. Raises ValidationError for any other unknown name."""
    role = db.session.scalar(sa.select(StaffRole).where(StaffRole.name == name))
    if role is not None:
        return role
    if name not in DEFAULT_ROLES:
        known = sorted({*DEFAULT_ROLES, *db.session.scalars(sa.select(StaffRole.name))})
        raise ValidationError(f"No role named {name!r}. Roles: {', '.join(known)}.", field="role")
    role = StaffRole(name=name, privileges=list(DEFAULT_ROLES[name]))
    db.session.add(role)
    db.session.flush()
    return role


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


# --- two-factor authentication -----------------------------------------------------------------


def _totp_purpose(staff_id: int) -> str:
    # Staff-specific, with the id sealed in: a client user's seed (or another staff
    # member's) copied onto this row does not open.
    return f"staff-totp:{staff_id}"


def seal_staff_totp_secret(staff: Staff, secret: str) -> None:
    staff.totp_secret = seal(secret, _totp_purpose(staff.id))


def staff_totp_secret(staff: Staff) -> str | None:
    """The staff member's TOTP seed, unsealed; None if it cannot be read."""
    if not staff.totp_secret:
        return None
    try:
        secret, current = open_sealed(staff.totp_secret, _totp_purpose(staff.id))
    except SealBroken:
        return None
    if not current:
        seal_staff_totp_secret(staff, secret)
    return secret


def verify_staff_second_factor(staff_id: int, code: str) -> str:
    """Check a TOTP code (each time step once) or an unused recovery code (once).
    Returns the method ("totp" or "recovery"). Locks the staff row so two requests
    cannot spend the same code. Raises ValidationError(field="code")."""
    account = f"staff:{staff_id}"
    refuse_if_too_many_credential_checks(account)
    staff = db.session.execute(
        sa.select(Staff).where(Staff.id == staff_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()
    step = totp.matching_step(staff_totp_secret(staff), code) if staff.has_2fa else None
    if step is not None:
        if staff.totp_last_step is not None and step <= staff.totp_last_step:
            count_wrong_credential(account)
            raise ValidationError("This code was already used. Wait for the next one.", field="code")
        staff.totp_last_step = step
        db.session.flush()
        return "totp"
    recovery = db.session.scalar(
        sa.select(StaffRecoveryCode)
        .where(
            StaffRecoveryCode.staff_id == staff.id,
            StaffRecoveryCode.code_hash == totp.hash_recovery_code(code),
            StaffRecoveryCode.used_at.is_(None),
        )
        .with_for_update()
    )
    if recovery is None:
        count_wrong_credential(account)
        raise ValidationError("That code is not right.", field="code")
    recovery.used_at = utcnow()
    db.session.flush()
    return "recovery"


def record_staff_login_event(
    email: str, staff: Staff | None, *, succeeded: bool, reason: str, ip: str | None, user_agent: str | None
) -> None:
    """A line of the staff sign-in log (reason: the method on success, why on failure);
    a success goes into the audit log too (staff.sign_in, with the method)."""
    db.session.add(
        StaffLoginEvent(
            staff_id=staff.id if staff else None,
            email=email[:254],
            succeeded=succeeded,
            reason=reason,
            ip=ip,
            user_agent=(user_agent or "")[:255] or None,
        )
    )
    if succeeded and staff is not None:
        audit.record(Actor.staff(staff, ip=ip), "staff.sign_in", target=f"staff:{staff.id}", new=reason)
    db.session.flush()


def enable_staff_2fa(staff: Staff, secret: str, code: str, *, actor: Actor) -> list[str]:
    """Turn 2FA on once the staff member proves their app works; returns ten recovery
    codes (shown once, stored hashed). Raises ValidationError(field="code")."""
    step = totp.matching_step(secret, code)
    if step is None:
        raise ValidationError("That code is not right. Check the time on your phone and try again.", field="code")
    seal_staff_totp_secret(staff, secret)
    staff.totp_enabled_at = utcnow()
    staff.totp_last_step = step
    codes = new_staff_recovery_codes(staff)
    record(actor, "staff.two_factor", target=f"staff:{staff.id}", old="off", new="on")
    db.session.flush()
    return codes


def new_staff_recovery_codes(staff: Staff) -> list[str]:
    """Ten fresh one-time codes (the old ones stop working)."""
    db.session.execute(sa.delete(StaffRecoveryCode).where(StaffRecoveryCode.staff_id == staff.id))
    codes = totp.new_recovery_codes()
    db.session.add_all(StaffRecoveryCode(staff_id=staff.id, code_hash=totp.hash_recovery_code(c)) for c in codes)
    db.session.flush()
    return codes


# --- support access ("login as client") ----------------------------------------------------

#: The Flask session key holding a live support access's id (see app.security.signin).
IMPERSONATION_SESSION_KEY = "impersonation"


def impersonation_refusal(impersonation: Impersonation | None, staff: Staff | None) -> str | None:
    """Why `impersonation` no longer holds for `staff` (None while it is live): it ended,
    its time is up, the staff member is gone or lost the privilege, or the client's user
    can no longer sign in. Asked on every request of the impersonating browser."""
    if impersonation is None or impersonation.ended_at is not None:
        return "ended"
    if staff is None or not staff.is_active or impersonation.staff_id != staff.id:
        return "staff signed out"
    if utcnow() >= impersonation.ends_at:
        return "time is up"
    if not staff.has_privilege(LOGIN_AS_CLIENT):
        return "privilege removed"
    if not impersonation.user.is_active:
        return "client not active"
    return None


def end_impersonation(
    impersonation_id: int, reason: str, *, staff_id: int | None, actor: Actor
) -> Impersonation | None:
    """End `staff_id`'s support access (once: an ended one, or another's, is left as it is)
    and audit it; None when there is no such access. `staff_id` None: the system ends it,
    whoever's it is (the browser's staff member is signed out or deactivated). Flushes."""
    impersonation = db.session.get(Impersonation, impersonation_id)
    if impersonation is None or (staff_id is not None and impersonation.staff_id != staff_id):
        return None
    if impersonation.ended_at is not None:
        return impersonation
    impersonation.ended_at = utcnow()
    impersonation.end_reason = reason[:40]
    record(
        actor,
        "impersonation.end",
        client_id=impersonation.client_id,
        target=f"impersonation:{impersonation.id}",
        new=reason,
    )
    return impersonation


def record_impersonation_view(
    impersonation: Impersonation, method: str, path: str, *, refused: bool = False, actor: Actor
) -> None:
    """One request of the client area made by staff during a support access, in the audit log:
    a page view, a form sent (with its method) or a refused one (the client's security settings)."""
    if refused:
        action = "impersonation.refused"
    else:
        action = "impersonation.view" if method in ("GET", "HEAD") else "impersonation.request"
    record(
        actor,
        action,
        client_id=impersonation.client_id,
        target=f"impersonation:{impersonation.id}",
        new=(path if action == "impersonation.view" else f"{method} {path}")[:1000],
    )
