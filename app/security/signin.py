"""A browser's signed-in state: one Flask-Login loader for client users and staff,
log_in, the remember cookie, and the IP allow-list checked on every request.
(Which pages need a login is decided by app.access.guard.)"""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, flash, g, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user, user_logged_out
from sqlalchemy.orm import joinedload

from app.clients.models import User
from app.core.actors import Actor, request_actor
from app.core.i18n import _, _l
from app.core.types import utcnow
from app.extensions import db, login_manager
from app.security.models import UserSession
from app.security.services import (
    SESSION_KEY,
    ip_allowed,
    remember_session,
    restore_remembered_session,
    start_session,
)
from app.staff.models import Impersonation, Staff
from app.staff.services import IMPERSONATION_SESSION_KEY, impersonation_refusal

#: "Keep me signed in": '<session id>.<secret>' of one recorded session (see
#: account.security.remember_session). Flask-Login's own remember cookie is not used.
REMEMBER_COOKIE = "remember_me"
#: Flask-Login's remember cookie, set by earlier versions: never honoured, always dropped.
LEGACY_REMEMBER_COOKIE = "remember_token"


def _load_identity(identity_id: str):
    """Load 'user:<id>:<stamp>' or 'staff:<id>:<stamp>'.

    A stale security stamp (password changed elsewhere), a suspended user or a
    client that is not active (closed, suspended, anonymized) loads nobody.
    """
    try:
        kind, raw_id, stamp = identity_id.split(":")
        if kind == "user":
            identity, live = _user_and_session(int(raw_id))
        else:
            identity, live = db.session.get({"staff": Staff}[kind], int(raw_id)), True
    except (ValueError, KeyError):
        return None
    if identity is None or identity.security_stamp != stamp or not identity.is_active:
        return None
    # A client user's login must be one of their open sessions (ended under
    # Security, by signing out or by a password change, it is gone). A remember
    # cookie brings one back only through _restore_remembered_login.
    if not live:
        return None
    if kind == "staff" and IMPERSONATION_SESSION_KEY in session and _in_client_area():
        return _impersonated_user(identity)
    return identity


def _user_and_session(user_id: int) -> tuple[User | None, bool]:
    """The user with their client, and whether this browser's recorded session of theirs is
    still open (what session_is_live answers): one statement on every signed-in request."""
    token = session.get(SESSION_KEY)
    if not token:
        return db.session.get(User, user_id, options=[joinedload(User.client)]), False
    live = sa.exists().where(UserSession.token == token, UserSession.user_id == User.id, UserSession.ended_at.is_(None))
    row = db.session.execute(
        sa.select(User, live.label("live")).options(joinedload(User.client)).where(User.id == user_id)
    ).first()
    return (row.User, bool(row.live)) if row is not None else (None, False)


def _in_client_area() -> bool:
    """A request of the client area (the admin, static files and health checks are not)."""
    return request.blueprint != "admin" and request.endpoint not in (None, "static", "healthz", "readyz")


def _impersonated_user(staff: Staff):
    """Login as client: in the client area, a staff member's browser with a live support
    access (app.staff.models.Impersonation, its id in the session) is the client's owner.
    The staff login stays underneath: the admin still sees the staff member, and when the
    access ends (its time, the privilege, the staff member) the browser is staff again and
    app.access.guard ends the access. A client user's session never becomes staff: only a
    staff login is ever swapped, and only for a client user."""
    impersonation = db.session.get(Impersonation, session[IMPERSONATION_SESSION_KEY])
    refusal = impersonation_refusal(impersonation, staff)
    if refusal is not None:
        g.impersonation_ended = refusal
        return staff
    g.impersonation, g.impersonating_staff, g.acting_staff_id = impersonation, staff, staff.id
    return impersonation.user


def log_in(identity, *, remember: bool | None = False, fresh: bool = True) -> None:
    """Start a new session for `identity` (no fixation: the old one is dropped).

    Client users get a recorded session (listed, and endable, under Security).
    `remember`: give this browser a remember cookie bound to the new session;
    None keeps what the browser had (signing in again after a password, 2FA or
    IP allow-list change). Staff are never remembered.
    Call inside the request's transaction; the caller commits.
    """
    if hasattr(identity, "_get_current_object"):
        identity = identity._get_current_object()  # current_user itself: keep the real object
    sid = session.get("sid")
    old = db.session.scalar(sa.select(UserSession).where(UserSession.token == sid)) if sid else None
    if remember is None:
        remember = old is not None and old.remember_hash is not None and old.ended_at is None
    if old is not None and old.ended_at is None:
        old.ended_at = utcnow()  # the session this browser had is over (no ghost entry under Security)
    session.clear()
    g.remember_cookie = ""  # the old cookie named the old session: drop it unless replaced below
    if identity.get_id().startswith("user:"):
        record = start_session(identity, actor=request_actor(for_user=identity))
        if remember:
            g.remember_cookie = remember_session(record, identity)
    login_user(identity, remember=False, fresh=fresh)


def _restore_remembered_login() -> None:
    """A browser with no login that brings a remember cookie is signed back in
    (account.security.restore_remembered_session); a worthless cookie is dropped."""
    cookie = request.cookies.get(REMEMBER_COOKIE)
    if not cookie or request.endpoint in ("static", "healthz", "readyz") or "_user_id" in session:
        return
    # Nobody is signed in yet (current_user is not read: it would load one); the
    # cookie's user becomes the actor once the cookie is found good.
    browser = Actor("system", ip=request.remote_addr, user_agent=request.headers.get("User-Agent"))
    user = restore_remembered_session(cookie, actor=browser)
    if user is None:
        g.remember_cookie = ""
    else:
        login_user(user, remember=False, fresh=False)  # non-fresh: sensitive changes ask for the password
    db.session.commit()  # the sign-in (or the refused one) is recorded whatever the request does next


def _write_remember_cookie(response):
    """Set or drop the remember cookie as log_in, a restore or a logout decided."""
    config = current_app.config
    value = g.pop("remember_cookie", None)
    if value:
        response.set_cookie(
            REMEMBER_COOKIE,
            value,
            max_age=config["REMEMBER_COOKIE_DAYS"] * 86400,
            secure=config.get("REMEMBER_COOKIE_SECURE", False),
            httponly=True,
            samesite=config.get("REMEMBER_COOKIE_SAMESITE", "Lax"),
        )
    elif value == "" and REMEMBER_COOKIE in request.cookies:
        response.delete_cookie(REMEMBER_COOKIE)
    if LEGACY_REMEMBER_COOKIE in request.cookies:
        response.delete_cookie(LEGACY_REMEMBER_COOKIE)
    return response


def _forget_browser(sender, user) -> None:
    """Signing out drops the remember cookie too (its session is ended by the caller)."""
    g.remember_cookie = ""


def _enforce_ip_allowlist():
    """Every request of a logged-in client user comes from an allowed address."""
    if request.endpoint in ("static", "healthz", "readyz"):
        return None  # no user loading (and no database) for these
    if (
        current_user.is_authenticated
        and current_user.get_id().startswith("user:")
        and g.get("impersonation") is None  # support access is staff's, not the client's sign-in
        and not ip_allowed(current_user, request.remote_addr)
    ):
        logout_user()
        session.clear()
        flash(_("Your account does not allow access from this IP address."), "error")
        return redirect(url_for("auth.login"))
    return None


def init_app(app) -> None:
    login_manager.user_loader(_load_identity)
    login_manager.login_view = "auth.login"
    login_manager.refresh_view = "security.reauthenticate"
    login_manager.needs_refresh_message = _l("Please confirm your password to continue.")
    login_manager.needs_refresh_message_category = "info"
    login_manager.session_protection = "basic"
    user_logged_out.connect(_forget_browser)
    app.before_request(_restore_remembered_login)
    app.before_request(_enforce_ip_allowlist)
    app.after_request(_write_remember_cookie)
