"""Staff accounts."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from app.audit import services as audit
from app.audit.services import record
from app.clients.models import new_security_stamp
from app.clients.services import normalize_email
from app.core import totp
from app.core.actors import Actor
from app.core.errors import DomainError, EmailTaken, InvalidCredentials, ValidationError
from app.core.i18n import _, ngettext
from app.core.passwords import hash_password, password_problem, verify_password
from app.core.ratelimit import count_wrong_credential, refuse_if_too_many_credential_checks
from app.core.secretbox import SealBroken, open_sealed, seal
from app.core.signing import InvalidToken, sign, unsign
from app.core.types import utcnow
from app.extensions import db
from app.staff.models import Impersonation, Staff, StaffLoginEvent, StaffRecoveryCode, StaffRole, staff_role_members
from app.staff.privileges import DEFAULT_ROLES, LOGIN_AS_CLIENT, MANAGE_STAFF, PRIVILEGES


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
        raise ValidationError(
            _("No role named %(name)s. Roles: %(roles)s.", name=repr(name), roles=", ".join(known)), field="role"
        )
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
            raise ValidationError(_("This code was already used. Wait for the next one."), field="code")
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
        raise ValidationError(_("That code is not right."), field="code")
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
        raise ValidationError(_("That code is not right. Check the time on your phone and try again."), field="code")
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


# --- the staff list and sign-in history --------------------------------------------------------


def all_staff() -> list[Staff]:
    """Every staff member with their roles (one query for the roles), by name."""
    return list(db.session.scalars(sa.select(Staff).options(selectinload(Staff.roles)).order_by(Staff.name, Staff.id)))


def recent_sign_ins(staff: Staff, limit: int = 20) -> list[StaffLoginEvent]:
    """The staff member's latest sign-in attempts, newest first."""
    return list(
        db.session.scalars(
            sa.select(StaffLoginEvent)
            .where(StaffLoginEvent.staff_id == staff.id)
            .order_by(StaffLoginEvent.id.desc())
            .limit(limit)
        )
    )


def is_pending_invite(staff: Staff) -> bool:
    """Invited, and no password chosen yet."""
    return staff.invited_at is not None and not staff.password_hash


# --- the last staff manager ----------------------------------------------------------------------


class LastStaffManager(ValidationError):
    """The change would leave nobody active who may manage staff (and so fix it)."""

    def __init__(self, field: str) -> None:
        super().__init__(
            _(
                "This would leave no active staff member who may manage staff. "
                "Give another active staff member the \u201cManage staff\u201d privilege first."
            ),
            field=field,
        )


def _refuse_leaving_no_manager(
    field: str,
    *,
    staff: Staff | None = None,
    roles: Iterable[StaffRole] | None = None,
    active: bool | None = None,
    role: StaffRole | None = None,
    privileges: Iterable[str] | None = None,
) -> None:
    """Raise LastStaffManager unless someone active who can sign in (a password chosen)
    would still hold MANAGE_STAFF after the change described: `staff` getting `roles`
    and/or `active`, or `role` getting `privileges`. The staff rows are locked, so two
    requests cannot each remove one of the last two managers."""
    members = db.session.scalars(
        sa.select(Staff)
        .where(Staff.active.is_(True), Staff.password_hash != "")
        .options(selectinload(Staff.roles))
        .with_for_update()
    ).all()
    for member in members:
        changed = staff is not None and member.id == staff.id
        if changed and active is False:
            continue
        if member.is_superuser:
            return
        for held in list(roles) if changed and roles is not None else member.roles:
            held_privileges = privileges if role is not None and held.id == role.id else held.privileges
            if MANAGE_STAFF in held_privileges:
                return
    raise LastStaffManager(field)


# --- invitations ---------------------------------------------------------------------------------

INVITE_SALT = "staff-invite"


class InvalidStaffInvite(DomainError):
    """A staff invite link that is forged, expired, already used, or voided by a newer one."""

    status_code = 400

    def __init__(self, expired: bool = False) -> None:
        if expired:
            message = _("This invitation has expired. Ask an administrator to send you a new one.")
        else:
            message = _(
                "This invitation link is not valid or was already used. "
                "Ask an administrator to send you a new invitation."
            )
        super().__init__(message)
        self.expired = expired
        if expired:
            self.status_code = 410


def invite_max_age() -> int:
    return current_app.config["STAFF_INVITE_MAX_AGE"]


def _roles_by_id(role_ids: Iterable[int]) -> list[StaffRole]:
    """The roles of `role_ids`, by name. Raises ValidationError(field="roles") for an unknown one."""
    wanted = set(role_ids)
    roles = list(db.session.scalars(sa.select(StaffRole).where(StaffRole.id.in_(wanted)).order_by(StaffRole.name)))
    if len(roles) != len(wanted):
        raise ValidationError(_("Choose roles from the list."), field="roles")
    return roles


def _names(roles: Iterable[StaffRole]) -> str:
    return ", ".join(role.name for role in roles) or "(none)"


def invite_staff(name: str, email: str, role_ids: Iterable[int], *, actor: Actor) -> tuple[Staff, str]:
    """Add a staff member who chooses their password through an emailed link.
    Returns them and the link's token (the caller emails it). Raises EmailTaken,
    ValidationError(field="roles") without a role."""
    email = normalize_email(email)
    roles = _roles_by_id(role_ids)
    if not roles:
        raise ValidationError(_("Choose at least one role."), field="roles")
    if db.session.scalar(sa.select(Staff.id).where(Staff.email == email)) is not None:
        raise EmailTaken()
    staff = Staff(email=email, name=name.strip(), password_hash="", roles=roles)
    try:
        with db.session.begin_nested():
            db.session.add(staff)
    except sa.exc.IntegrityError:
        raise EmailTaken() from None  # another request took the email between check and insert
    token = new_staff_invite_token(staff)
    record(actor, "staff.invite", target=f"staff:{staff.id}", new=f"{email} ({_names(roles)})")
    return staff, token


def new_staff_invite_token(staff: Staff) -> str:
    """A fresh invite token; the security stamp rotates, so any earlier link stops working."""
    staff.security_stamp = new_security_stamp()
    staff.invited_at = utcnow()
    db.session.flush()
    return sign({"s": staff.id, "t": staff.security_stamp}, salt=INVITE_SALT)


def resend_staff_invite(staff: Staff, *, actor: Actor) -> str:
    """A new invite token for a pending invite (the old link stops working). Raises Conflict-like
    ValidationError when the invite was accepted or the member is deactivated."""
    if not is_pending_invite(staff) or not staff.active:
        raise ValidationError(f"{staff.name} has no pending invitation to resend.")
    token = new_staff_invite_token(staff)
    record(actor, "staff.invite", target=f"staff:{staff.id}", old="previous link", new="resent")
    return token


def invited_staff(token: str, *, lock: bool = False) -> Staff:
    """The staff member an invite token names, if it may still be accepted. Raises
    InvalidStaffInvite. With `lock` their row stays locked (a link used twice at once)."""
    try:
        payload = unsign(token, salt=INVITE_SALT, max_age=invite_max_age())
        staff_id, stamp = int(payload["s"]), str(payload["t"])
    except InvalidToken as error:
        raise InvalidStaffInvite(expired=error.expired) from None
    except (KeyError, TypeError, ValueError):
        raise InvalidStaffInvite() from None
    query = sa.select(Staff).where(Staff.id == staff_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    staff = db.session.scalar(query)
    if staff is None or not staff.active or not is_pending_invite(staff):
        raise InvalidStaffInvite()
    if not secrets.compare_digest(staff.security_stamp, stamp):
        raise InvalidStaffInvite()
    return staff


def check_staff_password(password: str, *, field: str) -> None:
    """The same strength rules as client users' passwords. Raises ValidationError(field)."""
    if problem := password_problem(password):
        raise ValidationError(problem, field=field)


def accept_staff_invite(token: str, password: str, *, ip: str | None) -> Staff:
    """Set the invited staff member's password; the link then stops working (the stamp
    rotates). They still enrol a second factor at sign-in. Raises InvalidStaffInvite,
    ValidationError(field="password")."""
    staff = invited_staff(token, lock=True)
    check_staff_password(password, field="password")
    staff.password_hash = hash_password(password)
    staff.invited_at = None
    staff.security_stamp = new_security_stamp()
    record(Actor.staff(staff, ip=ip), "staff.accept_invite", target=f"staff:{staff.id}", new="password set")
    db.session.flush()
    return staff


# --- editing staff members -----------------------------------------------------------------------


def update_staff(staff: Staff, name: str, role_ids: Iterable[int], *, actor: Actor) -> bool:
    """Change a staff member's name and roles; audited old -> new. Returns whether anything
    changed. Raises ValidationError(field="roles"), LastStaffManager(field="roles")."""
    roles = _roles_by_id(role_ids)
    old_roles, new_roles = _names(staff.roles), _names(roles)
    changed = False
    if {r.id for r in roles} != {r.id for r in staff.roles}:
        _refuse_leaving_no_manager("roles", staff=staff, roles=roles)
        record(actor, "staff.update", target=f"staff:{staff.id}", old=f"roles: {old_roles}", new=f"roles: {new_roles}")
        staff.roles = roles
        changed = True
    name = name.strip()
    if name != staff.name:
        record(actor, "staff.update", target=f"staff:{staff.id}", old=f"name: {staff.name}", new=f"name: {name}")
        staff.name = name
        changed = True
    db.session.flush()
    return changed


def deactivate_staff(staff: Staff, *, actor: Actor) -> None:
    """Stop a staff member signing in; their sessions and invite link end (the stamp
    rotates). Raises ValidationError for oneself, LastStaffManager."""
    if actor.kind == "staff" and actor.id == staff.id:
        raise ValidationError(_("You cannot deactivate yourself. Ask another administrator."), field="active")
    if not staff.active:
        return
    _refuse_leaving_no_manager("active", staff=staff, active=False)
    staff.active = False
    staff.security_stamp = new_security_stamp()
    record(actor, "staff.deactivate", target=f"staff:{staff.id}", old="active", new="deactivated")
    db.session.flush()


def reactivate_staff(staff: Staff, *, actor: Actor) -> None:
    if staff.active:
        return
    staff.active = True
    record(actor, "staff.reactivate", target=f"staff:{staff.id}", old="deactivated", new="active")
    db.session.flush()


def reset_staff_2fa(staff: Staff, *, actor: Actor) -> None:
    """Turn another staff member's 2FA off (a lost phone): the seed and recovery codes
    go, their sessions end, and their next sign-in enrols again. Raises ValidationError
    for oneself (one's own 2FA is changed knowing a code)."""
    if actor.kind == "staff" and actor.id == staff.id:
        raise ValidationError(_("You cannot reset your own two-factor sign-in here."), field="reset_2fa")
    old = "on" if staff.has_2fa else "off"
    staff.totp_secret = None
    staff.totp_enabled_at = None
    staff.totp_last_step = None
    staff.security_stamp = new_security_stamp()
    db.session.execute(sa.delete(StaffRecoveryCode).where(StaffRecoveryCode.staff_id == staff.id))
    record(actor, "staff.reset_2fa", target=f"staff:{staff.id}", old=old, new="off, enrolment at next sign-in")
    db.session.flush()


# --- roles ---------------------------------------------------------------------------------------


def all_roles() -> list[StaffRole]:
    return list(db.session.scalars(sa.select(StaffRole).order_by(StaffRole.name)))


def role_member_counts() -> dict[int, int]:
    """How many staff members hold each role (role id -> count; a role nobody holds is absent)."""
    members = sa.select(staff_role_members.c.role_id, sa.func.count()).group_by(staff_role_members.c.role_id)
    return dict(db.session.execute(members).all())


def _privilege_text(privileges: Iterable[str]) -> str:
    """Privileges as the audit log shows them: in PRIVILEGES order, any unknown one last."""
    held = list(privileges)
    ordered = [p for p in PRIVILEGES if p in held] + sorted(p for p in held if p not in PRIVILEGES)
    return ", ".join(ordered) or "(none)"


def _checked_role(name: str, privileges: Iterable[str], *, role_id: int | None = None) -> tuple[str, list[str]]:
    name = name.strip()
    privileges = set(privileges)
    if unknown := privileges - PRIVILEGES.keys():
        raise ValidationError(_("Unknown privilege: %(names)s.", names=", ".join(sorted(unknown))), field="privileges")
    taken = db.session.scalar(sa.select(StaffRole.id).where(sa.func.lower(StaffRole.name) == name.lower()))
    if taken is not None and taken != role_id:
        raise ValidationError(_("A role with this name already exists."), field="name")
    return name, [p for p in PRIVILEGES if p in privileges]


def create_role(name: str, privileges: Iterable[str], *, actor: Actor) -> StaffRole:
    """A new role. Raises ValidationError(field="name") for a name in use."""
    name, privileges = _checked_role(name, privileges)
    role = StaffRole(name=name, privileges=privileges)
    db.session.add(role)
    db.session.flush()
    record(actor, "role.create", target=f"role:{role.id}", new=f"{name}: {_privilege_text(privileges)}")
    return role


def update_role(role: StaffRole, name: str, privileges: Iterable[str], *, actor: Actor) -> None:
    """Rename a role and change its privileges; audited old -> new. Raises
    ValidationError(field="name"), LastStaffManager(field="privileges")."""
    name, privileges = _checked_role(name, privileges, role_id=role.id)
    if set(privileges) != set(role.privileges):
        _refuse_leaving_no_manager("privileges", role=role, privileges=privileges)
        record(
            actor,
            "role.update",
            target=f"role:{role.id}",
            old=f"privileges: {_privilege_text(role.privileges)}",
            new=f"privileges: {_privilege_text(privileges)}",
        )
        role.privileges = privileges
    if name != role.name:
        record(actor, "role.update", target=f"role:{role.id}", old=f"name: {role.name}", new=f"name: {name}")
        role.name = name
    db.session.flush()


# --- one's own account ---------------------------------------------------------------------------


def change_staff_password(staff: Staff, current: str, new: str, *, actor: Actor) -> None:
    """Change one's own password: the current one is needed; the stamp rotates, so other
    sessions end (the caller signs this browser in again). Raises ValidationError."""
    account = f"staff:{staff.id}"
    refuse_if_too_many_credential_checks(account)
    if not verify_password(staff.password_hash, current):
        count_wrong_credential(account)
        raise ValidationError(_("Your current password is not correct."), field="current_password")
    check_staff_password(new, field="new_password")
    staff.password_hash = hash_password(new)
    staff.security_stamp = new_security_stamp()
    record(actor, "staff.password", target=f"staff:{staff.id}", old=None, new="changed")
    db.session.flush()


def regenerate_staff_recovery_codes(staff: Staff, code: str, *, actor: Actor) -> list[str]:
    """Ten new recovery codes for a current TOTP code (not a recovery code); the old ones
    stop working. Raises ValidationError(field="code")."""
    if not staff.has_2fa:
        raise ValidationError(_("Two-factor sign-in is not on for your account."), field="code")
    account = f"staff:{staff.id}"
    refuse_if_too_many_credential_checks(account)
    step = totp.matching_step(staff_totp_secret(staff), code)
    if step is None or (staff.totp_last_step is not None and step <= staff.totp_last_step):
        count_wrong_credential(account)
        raise ValidationError(_("That code is not right. Enter the current code from your app."), field="code")
    staff.totp_last_step = step
    codes = new_staff_recovery_codes(staff)
    record(actor, "staff.recovery_codes", target=f"staff:{staff.id}", old="previous codes", new="10 new codes")
    return codes


def delete_role(role: StaffRole, *, actor: Actor) -> None:
    """Delete a role nobody holds. Raises ValidationError while a staff member holds it."""
    holders = db.session.scalar(
        sa.select(sa.func.count()).select_from(staff_role_members).where(staff_role_members.c.role_id == role.id)
    )
    if holders:
        raise ValidationError(
            ngettext(
                "%(num)d staff member holds this role: take it from them first.",
                "%(num)d staff members hold this role: take it from them first.",
                holders,
            ),
            field="delete",
        )
    record(actor, "role.delete", target=f"role:{role.id}", old=f"{role.name}: {_privilege_text(role.privileges)}")
    db.session.delete(role)
    db.session.flush()


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
