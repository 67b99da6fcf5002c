"""The access policy applied to every request, before any view runs.

One place decides: the endpoint's rule in app.access.policy says whether it is
public, needs a signed-in client user (and which permission), or staff. Nobody
signed in goes to the right login page (an htmx request is told to go there:
HX-Redirect, not a login page swapped into a fragment); the other kind of
identity goes to its own home; a client user without the permission, or a staff
member without the privilege, gets 403; an endpoint the table does not name is a 404.
A staff session ends after STAFF_IDLE_MINUTES without a request, and one without
two-factor authentication ends at once where STAFF_2FA_REQUIRED (the sign-in never
starts one: this holds if the setting is turned on later).
"""

from __future__ import annotations

import time

from flask import Flask, Response, abort, current_app, flash, redirect, request, session, url_for
from flask_login import current_user, logout_user

from app.access.menu import client_nav
from app.access.policy import (
    PUBLIC,
    StaffNeed,
    can,
    is_client_user,
    is_staff,
    may,
    may_use,
    rule_for,
    staff_can,
    staff_may,
)
from app.core.errors import StaffForbidden
from app.staff.privileges import PRIVILEGES

#: The idle clock is written back at most this often (seconds), not on every request.
_SEEN_RESOLUTION = 30


def _to(endpoint: str, **values) -> Response:
    target = url_for(endpoint, **values)
    if request.headers.get("HX-Request"):
        return Response("", 401, {"HX-Redirect": target})
    return redirect(target)


def check_request() -> Response | None:
    endpoint = request.endpoint
    if endpoint is None:
        return None  # a 404 is on its way
    need = rule_for(endpoint)
    if need is None:
        abort(404)  # deny by default: no rule names this endpoint
    if need == PUBLIC:
        return None
    if isinstance(need, StaffNeed):
        return _check_staff(need)
    if not current_user.is_authenticated:
        return _to("auth.login", next=request.full_path.rstrip("?"))
    if not is_client_user(current_user):
        return _to("admin.index")  # staff in the client area: send them home
    if not can(current_user, need):
        abort(403)
    return None


def _check_staff(need: StaffNeed) -> Response | None:
    if not is_staff(current_user):
        if current_user.is_authenticated:
            return _to("admin.login")  # a client user in the admin
        return _to("admin.login", next=request.full_path.rstrip("?"))
    ended = _ended_staff_session()
    if ended:
        logout_user()
        session.clear()
        flash(ended, "info")
        return _to("admin.login", next=request.full_path.rstrip("?"))
    if not staff_can(current_user, need):
        raise StaffForbidden(PRIVILEGES[need.privilege])
    return None


def _ended_staff_session() -> str | None:
    """Why the signed-in staff member's session is over (None while it holds)."""
    if current_app.config["STAFF_2FA_REQUIRED"] and not current_user.has_2fa:
        return "Staff accounts need two-factor authentication: sign in again to set it up."
    now = int(time.time())
    seen = session.get("staff_seen")
    if seen is not None and now - seen > current_app.config["STAFF_IDLE_MINUTES"] * 60:
        return "You were signed out after a while without activity. Sign in again to go on."
    if seen is None or now - seen >= _SEEN_RESOLUTION:
        session["staff_seen"] = now
    return None


def init_app(app: Flask) -> None:
    app.before_request(check_request)
    app.jinja_env.globals.update(may=may, can=may_use, staff_may=staff_may, client_nav=client_nav)
