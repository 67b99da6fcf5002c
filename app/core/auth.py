"""Who is logged in: one Flask-Login loader for client users and staff, and the
decorators that guard the client area and the admin."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import redirect, request, session, url_for
from flask_login import current_user, login_user

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
    return identity


def log_in(identity, *, remember: bool = False) -> None:
    """Start a fresh session for `identity` (no fixation: the old one is dropped)."""
    session.clear()
    login_user(identity, remember=remember)


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


def init_app(app) -> None:
    login_manager.user_loader(_load_identity)
    login_manager.login_view = "account.login"
    login_manager.session_protection = "basic"
