"""A change asked for on a session that is not fresh survives the password prompt.

A POST that needs a fresh login (Flask-Login's fresh_login_required) is kept in
the session, the user confirms the password, and the same POST is then made
again to the same URL (a 307 keeps the method) with the kept fields put back.
Passwords and codes typed into the form are never kept: a form that had one
comes back with that field empty and asks for it again, the rest as typed.
"""

from __future__ import annotations

import secrets
import time

from flask import current_app, flash, redirect, request, session, url_for
from flask_login import login_url
from werkzeug.datastructures import ImmutableMultiDict

from app.core.i18n import _
from app.core.rendering import redirect_to
from app.core.urls import is_safe_next

_KEY = "reauth_pending"
#: How long a kept change waits for the password.
PENDING_SECONDS = 600
#: Field names whose values never go into the session cookie.
_SECRET_WORDS = ("password", "code", "secret", "token")


def _is_secret(name: str) -> bool:
    return any(word in name.lower() for word in _SECRET_WORDS)


def ask_for_password():
    """Flask-Login's needs_refresh handler: keep a POST, then ask for the password."""
    flash(_("Please confirm your password to continue."), "info")
    if request.method != "POST":
        return redirect(login_url("security.reauthenticate", next_url=request.url))
    fields = [(name, value) for name, value in request.form.items(multi=True) if name != "csrf_token"]
    nonce = secrets.token_urlsafe(12)
    session[_KEY] = {
        "n": nonce,
        "e": request.endpoint,
        "a": request.view_args or {},
        "f": [[name, value] for name, value in fields if not _is_secret(name)][:50],
        "s": any(_is_secret(name) for name, _ in fields) or bool(request.files),
        "t": int(time.time()),
        "ok": False,
    }
    back = urlsplit_path(request.referrer) or url_for("dashboard.index")
    return redirect_to(url_for("security.reauthenticate", next=back, resume=nonce))


def urlsplit_path(url: str | None) -> str | None:
    """The local path (and query) of a same-site Referer, else None."""
    from urllib.parse import urlsplit

    if not url:
        return None
    parts = urlsplit(url)
    if parts.netloc and parts.netloc != request.host:
        return None
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return path if is_safe_next(path) else None


def pending_change(nonce: str | None) -> dict | None:
    """The kept change this re-authentication page is for, if still valid."""
    pending = session.get(_KEY)
    if not isinstance(pending, dict) or not nonce or not secrets.compare_digest(str(pending.get("n")), nonce):
        return None
    if time.time() - pending.get("t", 0) > PENDING_SECONDS:
        session.pop(_KEY, None)
        return None
    rule = _post_rule(pending.get("e"))
    return pending if rule is not None else None


def _post_rule(endpoint: str | None):
    """The URL rule of one of our own POST endpoints (the only places a change goes back to)."""
    if endpoint not in current_app.view_functions:
        return None
    return next((r for r in current_app.url_map.iter_rules(endpoint) if "POST" in (r.methods or ())), None)


def resume(pending: dict):
    """After the password: make the kept POST again, to its own URL (local by construction)."""
    pending["ok"] = True
    session[_KEY] = pending
    if pending.get("s"):
        flash(_("Password confirmed. Type the password or code of the form again: we never keep them."), "info")
    target = url_for(pending["e"], **pending["a"], resume=pending["n"])
    return redirect(target, code=307)


def restore_kept_form() -> None:
    """before_app_request: on the POST `resume` made, put the kept fields back."""
    nonce = request.args.get("resume")
    if request.method != "POST" or not nonce:
        return
    pending = session.get(_KEY)
    if not isinstance(pending, dict) or not pending.get("ok") or pending_change(nonce) is None:
        return
    if pending.get("e") != request.endpoint or pending.get("a") != (request.view_args or {}):
        return
    session.pop(_KEY, None)
    kept = [(name, value) for name, value in pending["f"]]
    kept.append(("csrf_token", request.form.get("csrf_token", "")))  # checked already, by CSRFProtect
    request.form = ImmutableMultiDict(kept)
