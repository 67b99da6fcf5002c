"""Account security: sessions, login history, 2FA, IP allow-list, passwords, email changes.

Functions flush, never commit. Signed links are built from SERVER_NAME
(core.urls.external_url) and carry a nonce or stamp, so they die when used or
when the account changes.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, session

from app.audit.services import record
from app.clients.models import User, UserStatus, new_security_stamp
from app.clients.services import find_user_by_email, log_change, normalize_email
from app.core import totp
from app.core.actors import Actor
from app.core.errors import DomainError, ValidationError
from app.core.i18n import _
from app.core.passwords import hash_password, verify_password
from app.core.ratelimit import count_wrong_credential, refuse_if_too_many_credential_checks
from app.core.secretbox import SealBroken, open_sealed, seal
from app.core.signing import InvalidToken, sign, unsign
from app.core.types import utcnow
from app.core.urls import external_url
from app.core.useragent import describe as describe_agent
from app.extensions import db
from app.notify.services import queue_email
from app.security.models import LoginEvent, RecoveryCode, UserSession

log = logging.getLogger(__name__)

SESSION_KEY = "sid"


# --- sessions and login history -------------------------------------------------------


def _user_agent(actor: Actor) -> str | None:
    """The browser's User-Agent as the sessions and the sign-in history store it."""
    return actor.user_agent[:255] if actor.user_agent else None


def start_session(user: User, *, actor: Actor) -> UserSession:
    """Record a new logged-in browser (`actor`'s IP and User-Agent) and tie the Flask session to it."""
    record = UserSession(token=secrets.token_urlsafe(32), user_id=user.id, ip=actor.ip, user_agent=_user_agent(actor))
    db.session.add(record)
    db.session.flush()
    session[SESSION_KEY] = record.token
    return record


def _hash_remember_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def remember_session(record: UserSession, user: User) -> str:
    """Let this session be restored after the browser closes ("keep me signed in").

    Returns the remember cookie's value, '<session id>.<secret>'; the session row
    keeps only the secret's hash, an expiry (REMEMBER_COOKIE_DAYS) and the user's
    security stamp. Ending the session, or rotating the stamp, makes the cookie worthless.
    """
    secret = secrets.token_urlsafe(32)
    record.remember_hash = _hash_remember_secret(secret)
    record.remember_until = utcnow() + timedelta(days=current_app.config["REMEMBER_COOKIE_DAYS"])
    record.remember_stamp = user.security_stamp
    db.session.flush()
    return f"{record.id}.{secret}"


def remembered_session(cookie: str) -> UserSession | None:
    """The open, unexpired session a remember cookie names, if its secret is right
    and its user is active with the stamp the cookie was given under."""
    raw_id, _, secret = cookie.partition(".")
    if not (raw_id.isdigit() and len(raw_id) <= 9 and secret):  # an id beyond the column is nobody
        return None
    record = db.session.get(UserSession, int(raw_id))
    if (
        record is None
        or record.ended_at is not None
        or record.remember_hash is None
        or record.remember_until is None
        or not hmac.compare_digest(record.remember_hash, _hash_remember_secret(secret))
        or record.remember_until <= utcnow()
    ):
        return None
    user = db.session.get(User, record.user_id)
    if user is None or not user.is_active or not hmac.compare_digest(record.remember_stamp or "", user.security_stamp):
        return None
    return record


def restore_remembered_session(cookie: str, *, actor: Actor) -> User | None:
    """Sign a closed-and-reopened browser back in from its remember cookie.

    The session the cookie names continues (this browser's Flask session points
    at it again) and the restore is recorded as a sign-in: history, last login,
    sign-in alert. None when the cookie is worthless, or the address is not in
    the user's allow-list (a refused sign-in, recorded and reported like one at
    the login form); the caller then drops the cookie. `actor`: this browser (its IP
    and User-Agent), nobody signed in yet.
    """
    record = remembered_session(cookie)
    if record is None:
        return None
    user = db.session.get(User, record.user_id)
    actor = actor.as_user(user)
    if not ip_allowed(user, actor.ip):
        refuse_blocked_sign_in(user, method="remembered", actor=actor)
        return None
    record.last_seen_at = utcnow()
    record.ip = actor.ip
    record.user_agent = _user_agent(actor)
    session[SESSION_KEY] = record.token
    record_sign_in(user, method="remembered", actor=actor)
    return user


#: How a browser got signed in, as the sign-in history notes it (nothing for the password).
SIGN_IN_REASONS = {"password": None, "email link": "email link", "remembered": "remembered browser"}


def record_sign_in(user: User, *, method: str = "password", actor: Actor) -> None:
    """A browser (`actor`) was signed in (password, email link or remembered): last login,
    sign-in history and, if the user wants it, the sign-in alert."""
    record_login(user, actor.ip)
    record_login_event(user, succeeded=True, reason=SIGN_IN_REASONS[method], actor=actor)
    send_login_alert(user, method=method, actor=actor)


def session_is_live(user_id: int) -> bool:
    """Whether the current Flask session's recorded session is still open."""
    token = session.get(SESSION_KEY)
    if not token:
        return False
    return (
        db.session.scalar(
            sa.select(UserSession.id).where(
                UserSession.token == token, UserSession.user_id == user_id, UserSession.ended_at.is_(None)
            )
        )
        is not None
    )


def end_current_session(user: User) -> None:
    """End the recorded session of this browser (it signs out)."""
    token = session.get(SESSION_KEY)
    if token:
        db.session.execute(
            sa.update(UserSession)
            .where(UserSession.token == token, UserSession.user_id == user.id, UserSession.ended_at.is_(None))
            .values(ended_at=utcnow())
            .execution_options(synchronize_session=False)
        )


def end_sessions(user: User, *, except_current: bool = False, only_id: int | None = None) -> int:
    """End the user's sessions (all, all but this one, or one). Returns how many."""
    query = sa.update(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    if except_current and session.get(SESSION_KEY):
        query = query.where(UserSession.token != session[SESSION_KEY])
    if only_id is not None:
        query = query.where(UserSession.id == only_id)
    return db.session.execute(query.values(ended_at=utcnow()).execution_options(synchronize_session=False)).rowcount


def record_login_event(user: User, *, succeeded: bool, reason: str | None = None, actor: Actor) -> None:
    """A line of the sign-in history: from `actor`'s IP and browser."""
    db.session.add(
        LoginEvent(user_id=user.id, succeeded=succeeded, reason=reason, ip=actor.ip, user_agent=_user_agent(actor))
    )
    db.session.flush()


def _queue_sign_in_email(template: str, user: User, *, method: str, actor: Actor, **extra) -> None:
    """A security email about a sign-in by `actor`: where, when, which browser, how."""
    queue_email(
        template,
        to=user,
        client=user.client,
        ip=actor.ip,
        when=utcnow(),
        browser=describe_agent(_user_agent(actor)),
        method=method,
        security_url=external_url("security.index"),
        **extra,
    )


def send_login_alert(user: User, *, method: str = "password", actor: Actor) -> None:
    if user.login_alerts:
        _queue_sign_in_email("login_alert", user, method=method, actor=actor)


def set_login_alerts(user: User, on: bool, *, actor: Actor) -> None:
    """Whether the user is emailed at every sign-in; the change is logged as `actor`'s."""
    log_change(user, "login_alerts", str(user.login_alerts), str(on), actor=actor)
    user.login_alerts = on
    db.session.flush()


# --- IP allow-list -------------------------------------------------------------------------


def parse_allowlist(text: str) -> list[str]:
    """'203.0.113.7, 198.51.100.0/24' -> canonical entries. Raises ValidationError."""
    entries = []
    for raw in text.replace(",", "\n").split():
        try:
            network = ipaddress.ip_network(raw.strip(), strict=False)
        except ValueError:
            raise ValidationError(
                _("%(value)s is not an IP address or CIDR range.", value=raw), field="ip_allowlist"
            ) from None
        entries.append(str(network.network_address) if network.num_addresses == 1 else str(network))
    return list(dict.fromkeys(entries))


def ip_allowed(user: User, ip: str | None) -> bool:
    """Whether `user` may use the account from `ip`. The one place this is decided:
    login, every request of a session, and links from emails all ask here."""
    if not user.ip_allowlist:
        return True
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(entry, strict=False) for entry in user.ip_allowlist)


BLOCKED_REASON = "ip not allowed"


def refuse_blocked_sign_in(user: User, *, method: str = "password", actor: Actor) -> None:
    """A sign-in with the right credentials from an address outside the allow-list.

    Recorded in the sign-in history, and the user is told by a security email
    (it always goes, whatever the alert setting): at most one per address per
    BLOCKED_SIGNIN_ALERT_SECONDS, counted from the refused sign-ins recorded under
    the user's row lock, so a burst of attempts sends one email.
    """
    db.session.execute(sa.select(User.id).where(User.id == user.id).with_for_update())
    quiet = current_app.config["BLOCKED_SIGNIN_ALERT_SECONDS"]
    since = utcnow() - timedelta(seconds=quiet)
    already_told = db.session.scalar(
        sa.select(LoginEvent.id)
        .where(
            LoginEvent.user_id == user.id,
            LoginEvent.reason == BLOCKED_REASON,
            LoginEvent.ip == actor.ip,
            LoginEvent.created_at > since,
        )
        .limit(1)
    )
    record_login_event(user, succeeded=False, reason=BLOCKED_REASON, actor=actor)
    if already_told is None:
        _queue_sign_in_email("blocked_sign_in", user, method=method, actor=actor, quiet_minutes=max(1, quiet // 60))


def set_allowlist(user: User, text: str, *, confirm_lockout: bool, actor: Actor) -> list[str]:
    """Save the allow-list; refuse one that would lock out `actor`'s address unless confirmed.

    A changed list ends the user's other sessions (and so their remember cookies):
    they sign in again under the new rule. The caller starts this browser's
    session anew."""
    entries = parse_allowlist(text)
    candidate = User(ip_allowlist=entries)
    if entries and not ip_allowed(candidate, actor.ip) and not confirm_lockout:
        raise ValidationError(
            _(
                "Your current address %(ip)s is not in this list: you would be locked out. "
                "Add it, or tick the box to confirm.",
                ip=actor.ip,
            ),
            field="ip_allowlist",
        )
    log_change(user, "ip_allowlist", ", ".join(user.ip_allowlist or []), ", ".join(entries), actor=actor)
    if entries != (user.ip_allowlist or []):
        end_sessions(user, except_current=True)
    user.ip_allowlist = entries
    db.session.flush()
    return entries


# --- passwords -----------------------------------------------------------------------------


def check_new_password(password: str) -> None:
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        raise ValidationError(_("Use at least %(num)d characters.", num=minimum), field="new_password")
    if len(password) > 256:
        raise ValidationError(_("Use at most 256 characters."), field="new_password")


def change_password(user: User, current: str, new: str, *, actor: Actor) -> None:
    """Change the password: rotates the security stamp (voiding other sessions,
    remember-me cookies and signed links) and ends the user's other sessions."""
    if not check_password(user, current):
        raise ValidationError(_("Your current password is not correct."), field="current_password")
    check_new_password(new)
    user.password_hash = hash_password(new)
    user.security_stamp = new_security_stamp()
    user.reset_nonce = new_security_stamp()
    end_sessions(user, except_current=True)
    log_change(user, "password", None, "changed", actor=actor)
    db.session.flush()


RESET_SALT = "password-reset"


def request_password_reset(email: str) -> None:
    """Email a reset link if the address belongs to an active user. The caller
    answers the same whatever happens, so addresses cannot be probed."""
    user = find_user_by_email(email)
    nonce = new_security_stamp()
    token = sign({"u": user.id if user else 0, "n": nonce}, salt=RESET_SALT)
    link = external_url("auth.reset_password", token=token)
    if user is None or user.status is not UserStatus.ACTIVE:
        return
    user.reset_nonce = nonce  # a newer request voids the older links
    queue_email("password_reset", to=user, client=user.client, reset_url=link)
    db.session.flush()


def user_for_reset_token(token: str) -> User:
    """The user a reset link is for. Raises InvalidToken (expired, forged, used, stale)."""
    payload = unsign(token, salt=RESET_SALT, max_age=current_app.config["PASSWORD_RESET_MAX_AGE"])
    user = db.session.get(User, payload.get("u") or 0) if isinstance(payload, dict) else None
    if (
        user is None
        or user.status is not UserStatus.ACTIVE
        or not hmac.compare_digest(user.reset_nonce, str(payload.get("n")))
    ):
        raise InvalidToken()
    return user


def reset_password(token: str, new: str, *, actor: Actor) -> User:
    """Set a new password from a reset link; the link then stops working.
    The change is logged as the link's user's, from `actor`'s address."""
    user = user_for_reset_token(token)
    check_new_password(new)
    user.password_hash = hash_password(new)
    user.reset_nonce = new_security_stamp()
    user.security_stamp = new_security_stamp()
    user.invited_at = None  # an invited user who set a password this way has accepted
    end_sessions(user)
    log_change(user, "password", None, "reset by email", actor=actor.as_user(user))
    db.session.flush()
    return user


def set_password_by_staff(user: User, new: str, *, actor: Actor) -> None:
    """Staff set `user`'s password without an email (the client's own rules apply). Like a
    reset it rotates the security stamp and ends every session of the user (their remember
    cookies and signed links too); the change log and the audit log say who, never the password."""
    if user.status is not UserStatus.ACTIVE:
        raise DomainError(_("This user is suspended or invited: their password cannot be set."))
    check_new_password(new)
    user.password_hash = hash_password(new)
    user.security_stamp = new_security_stamp()
    user.reset_nonce = new_security_stamp()
    ended = end_sessions(user)
    log_change(user, "password", None, "set by staff", actor=actor)
    record(
        actor, "user.password_set", client_id=user.client_id, target=f"user:{user.id}", new=f"{ended} sessions ended"
    )
    db.session.flush()


def send_password_reset_by_staff(user: User, *, actor: Actor) -> None:
    """Staff send `user` a password reset link: the same link and email as "Forgot password"
    (through the outbox), audited. Raises DomainError for a user who cannot sign in."""
    if user.status is not UserStatus.ACTIVE:
        raise DomainError(_("This user is suspended or invited: no reset link can be sent."))
    request_password_reset(user.email)
    record(actor, "user.password_reset_sent", client_id=user.client_id, target=f"user:{user.id}", new=user.email)


# --- email change ---------------------------------------------------------------------------

EMAIL_SALT = "email-change"


def request_email_change(user: User, new_email: str, password: str) -> None:
    """Send a confirmation link to the new address; nothing changes until it is opened."""
    if not check_password(user, password):
        raise ValidationError(_("Your current password is not correct."), field="password")
    new_email = normalize_email(new_email)
    if new_email == user.email:
        raise ValidationError(_("This is already your email address."), field="new_email")
    if find_user_by_email(new_email) is not None:
        raise ValidationError(_("An account with this email already exists."), field="new_email")
    token = sign({"u": user.id, "e": new_email, "s": user.security_stamp}, salt=EMAIL_SALT)
    queue_email(
        "email_change",
        to=user,
        client=user.client,
        address=new_email,
        new_email=new_email,
        confirm_url=external_url("security.confirm_email", token=token),
    )


def confirm_email_change(token: str, *, actor: Actor) -> User:
    """Apply a confirmed email change, and tell the old address. Raises InvalidToken.
    The change is logged as the link's user's, from `actor`'s address."""
    payload = unsign(token, salt=EMAIL_SALT, max_age=current_app.config["EMAIL_CHANGE_MAX_AGE"])
    user = db.session.get(User, payload.get("u") or 0)
    if user is None or not hmac.compare_digest(user.security_stamp, str(payload.get("s"))):
        raise InvalidToken()
    new_email = payload["e"]
    if find_user_by_email(new_email) is not None:
        raise DomainError(_("Another account now uses this email address."))
    old_email = user.email
    user.email = new_email
    user.reset_nonce = new_security_stamp()
    user.security_stamp = new_security_stamp()  # the link works once; other sessions end
    end_sessions(user)  # and so do their remember cookies: sign in with the new address
    log_change(user, "email", old_email, new_email, actor=actor.as_user(user))
    queue_email(
        "email_changed", to=user, client=user.client, address=old_email, old_email=old_email, new_email=new_email
    )
    return user


# --- two-factor authentication -----------------------------------------------------------------


def provisioning_qr_svg(user: User, secret: str) -> str:
    """The enrolment QR code as inline SVG (no image request, no external service)."""
    return totp.provisioning_qr_svg(user.email, current_app.config["BRAND_NAME"], secret)


def _totp_purpose(user_id: int) -> str:
    # The user id is sealed in: a sealed seed copied onto another user does not open.
    return f"totp:{user_id}"


def seal_totp_secret(user: User, secret: str) -> None:
    user.totp_secret = seal(secret, _totp_purpose(user.id))


def totp_secret(user: User) -> str | None:
    """The user's TOTP seed, unsealed (it is stored encrypted); None if it cannot be read.

    A seed sealed with a key now in SECRET_KEY_FALLBACKS is sealed again with
    the current key. An unreadable seed (SECRET_KEY changed without keeping the
    old one as a fallback) fails every code: recovery codes still work.
    """
    if not user.totp_secret:
        return None
    try:
        secret, current = open_sealed(user.totp_secret, _totp_purpose(user.id))
    except SealBroken:
        log.error("user %s: the 2FA secret cannot be decrypted with SECRET_KEY or its fallbacks", user.id)
        return None
    if not current:
        seal_totp_secret(user, secret)
    return secret


def new_recovery_codes(user: User) -> list[str]:
    """Ten fresh one-time codes (the old ones stop working). Shown once, stored hashed."""
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = totp.new_recovery_codes()
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=totp.hash_recovery_code(code)) for code in codes)
    db.session.flush()
    return codes


def enable_2fa(user: User, secret: str, code: str, *, actor: Actor) -> list[str]:
    """Turn 2FA on once the user proves their app works. Returns the recovery codes."""
    step = totp.matching_step(secret, code)
    if step is None:
        raise ValidationError(_("That code is not right. Check the time on your phone and try again."), field="code")
    seal_totp_secret(user, secret)
    user.totp_enabled_at = utcnow()
    user.totp_last_step = step
    user.security_stamp = new_security_stamp()  # links and other sessions made without 2FA end
    end_sessions(user, except_current=True)
    log_change(user, "two_factor", "off", "on", actor=actor)
    codes = new_recovery_codes(user)
    db.session.flush()
    return codes


@dataclass(frozen=True)
class SecondFactor:
    method: str  # "totp" or "recovery"


def verify_second_factor(user_id: int, code: str) -> SecondFactor:
    """Check a TOTP code (each time step accepted once) or a recovery code (once).

    Locks the user row so two requests cannot both spend the same code.
    Raises ValidationError(field="code"), or TooManyCredentialChecks (429) while
    the account's budget of wrong passwords and codes is spent.
    """
    account = f"user:{user_id}"
    refuse_if_too_many_credential_checks(account)
    try:
        return _verify_second_factor(user_id, code)
    except ValidationError:
        count_wrong_credential(account)
        raise


def _verify_second_factor(user_id: int, code: str) -> SecondFactor:
    user = db.session.execute(
        sa.select(User).where(User.id == user_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()
    if not user.has_2fa:
        raise ValidationError(_("Two-factor authentication is not on for this account."), field="code")
    step = totp.matching_step(totp_secret(user), code)
    if step is not None:
        if user.totp_last_step is not None and step <= user.totp_last_step:
            raise ValidationError(_("This code was already used. Wait for the next one."), field="code")
        user.totp_last_step = step
        db.session.flush()
        return SecondFactor("totp")
    recovery = db.session.scalar(
        sa.select(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == totp.hash_recovery_code(code),
            RecoveryCode.used_at.is_(None),
        )
        .with_for_update()
    )
    if recovery is None:
        raise ValidationError(_("That code is not right."), field="code")
    recovery.used_at = utcnow()
    db.session.flush()
    return SecondFactor("recovery")


def disable_2fa(user: User, code: str, *, actor: Actor) -> None:
    verify_second_factor(user.id, code)
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    user.security_stamp = new_security_stamp()
    end_sessions(user, except_current=True)
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    log_change(user, "two_factor", "on", "off", actor=actor)
    db.session.flush()


def recovery_codes_left(user: User) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(RecoveryCode.id)).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )


# --- the recovery codes as a text file, right after they are made -------------------------------

_DOWNLOAD_KEY = "recovery_download"
#: How long after the codes are made they can be downloaded.
RECOVERY_DOWNLOAD_SECONDS = 600


def offer_recovery_download(user: User, codes: list[str]) -> None:
    """Keep the codes just shown for one download. They are stored hashed, so only this
    browser's session has them, sealed (the cookie is signed, not encrypted), for a few minutes."""
    session[_DOWNLOAD_KEY] = {"c": seal("\n".join(codes), f"recovery-download:{user.id}"), "t": int(time.time())}


def take_recovery_download(user: User) -> list[str] | None:
    """The codes offered for download, once; None if too late, taken, or no longer valid."""
    offered = session.pop(_DOWNLOAD_KEY, None)
    if not isinstance(offered, dict) or time.time() - offered.get("t", 0) > RECOVERY_DOWNLOAD_SECONDS:
        return None
    try:
        codes = open_sealed(str(offered.get("c")), f"recovery-download:{user.id}")[0].split("\n")
    except SealBroken:
        return None
    valid = db.session.scalar(
        sa.select(sa.func.count(RecoveryCode.id)).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.used_at.is_(None),
            RecoveryCode.code_hash.in_([totp.hash_recovery_code(code) for code in codes]),
        )
    )
    return codes if valid == len(codes) else None  # made again since (elsewhere), or one was used


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


def record_login(identity, ip: str | None) -> None:
    """Remember when and from where a user or staff member last logged in."""
    identity.last_login_at = utcnow()
    identity.last_login_ip = ip
