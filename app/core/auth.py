"""Who is logged in: one Flask-Login loader for client users and staff, and the
decorators that guard the client area and the admin."""

from __future__ import annotations

import functools
from collections.abc import Callable

import sqlalchemy as sa
from flask import flash, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user

from app.extensions import db, login_manager


def _load_identity(identity_id: str):
    """Load 'user:<id>:<stamp>' or 'staff:<id>:<stamp>'.

    A stale security stamp (password changed elsewhere), a suspended user or a
    client that is not active (closed, suspended, anonymized) loads nobody.
    """
    from app.account.models import User
    from app.admin.models import Staff

    try:
        kind, raw_id, stamp = identity_id.split(":")
        model = {"user": User, "staff": Staff}[kind]
        identity = db.session.get(model, int(raw_id))
    except (ValueError, KeyError):
        return None
    if identity is None or identity.security_stamp != stamp or not identity.is_active:
        return None
    restoring_from_cookie = "sid" not in session and _remember_cookie_present()
    if kind == "user" and "_user_id" in session and not restoring_from_cookie:
        # A session-based login must still be one of the user's open sessions
        # (ended under Security, or by a password change, it is gone). A restore
        # from the remember-me cookie gets its session recorded right after.
        from app.account.security import session_is_live

        if not session_is_live(identity.id):
            return None
    return identity


def log_in(identity, *, remember: bool = False, fresh: bool = True) -> None:
    """Start a new session for `identity` (no fixation: the old one is dropped).

    Client users get a recorded session (listed, and endable, under Security).
    Call inside the request's transaction; the caller commits.
    """
    if hasattr(identity, "_get_current_object"):
        identity = identity._get_current_object()  # current_user itself: keep the real object
    if session.get("sid"):
        from app.account.models import UserSession
        from app.core.types import utcnow

        # The session this browser had is over (no ghost entry under Security).
        db.session.execute(
            sa.update(UserSession)
            .where(UserSession.token == session["sid"], UserSession.ended_at.is_(None))
            .values(ended_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    session.clear()
    if identity.get_id().startswith("user:"):
        from app.account.security import start_session

        start_session(identity)
    login_user(identity, remember=remember, fresh=fresh)


def _enforce_ip_allowlist():
    """Every request of a logged-in client user comes from an allowed address."""
    from app.account.security import ip_allowed

    if request.endpoint in ("static", "healthz"):
        return None  # no user loading (and no database) for these
    if (
        current_user.is_authenticated
        and current_user.get_id().startswith("user:")
        and not ip_allowed(current_user, request.remote_addr)
    ):
        logout_user()
        session.clear()
        flash("Your account does not allow access from this IP address.", "error")
        return redirect(url_for("account.login"))
    return None


def _session_from_remember_cookie(sender, user) -> None:
    """A remember-me cookie restored the login: record it as a session too."""
    if user.get_id().startswith("user:"):
        from app.account.security import start_session
        from app.extensions import db

        start_session(user)
        db.session.commit()


def _guard(kind: str, login_endpoint: str, elsewhere: str) -> Callable:
    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return redirect(url_for(login_endpoint, next=request.full_path.rstrip("?")))
            if not current_user.get_id().startswith(f"{kind}:"):
                # Logged in, but as the other kind of identity: send them home.
                return redirect(url_for(elsewhere))
            return view(*args, **kwargs)

        return wrapped

    return decorator


#: The client area: a logged-in client user (owner or trusted).
client_login_required = _guard("user", "account.login", elsewhere="admin.index")
#: The admin: a logged-in staff member.
staff_required = _guard("staff", "admin.login", elsewhere="admin.login")


def _remember_cookie_present() -> bool:
    from flask import current_app

    return current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies


def init_app(app) -> None:
    from flask_login import user_loaded_from_cookie

    login_manager.user_loader(_load_identity)
    login_manager.login_view = "account.login"
    login_manager.refresh_view = "account.reauthenticate"
    login_manager.needs_refresh_message = "Please confirm your password to continue."
    login_manager.needs_refresh_message_category = "info"
    login_manager.session_protection = "basic"
    user_loaded_from_cookie.connect(_session_from_remember_cookie)
    app.before_request(_enforce_ip_allowlist)
