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

from flask import Flask, Response, abort, current_app, flash, g, redirect, request, session, url_for
from flask_login import current_user, logout_user

from app.access.menu import client_nav
from app.access.policy import (
    PUBLIC,
    StaffNeed,
    can,
    impersonation_refuses,
    is_client_user,
    is_staff,
    may,
    may_use,
    rule_for,
    staff_can,
    staff_may,
)
from app.core.actors import Actor
from app.core.errors import ImpersonationForbidden, StaffForbidden
from app.core.i18n import _, _l
from app.extensions import db
from app.staff.privileges import PRIVILEGES
from app.staff.services import IMPERSONATION_SESSION_KEY, end_impersonation, record_impersonation_view

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
    if session.get(IMPERSONATION_SESSION_KEY) and request.blueprint != "admin" and endpoint not in _NO_USER:
        stop = _check_impersonation(endpoint)
        if stop is not None:
            return stop
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
    ended = _ended_staff_session(current_user)
    if ended:
        logout_user()
        session.clear()
        flash(ended, "info")
        return _to("admin.login", next=request.full_path.rstrip("?"))
    if not staff_can(current_user, need):
        raise StaffForbidden(PRIVILEGES[need.privilege])
    return None


def _check_impersonation(endpoint: str) -> Response | None:
    """A request of the client area from a browser with a support access (login as client).

    The user loader (app.security.signin) shows the client's user while the access is live;
    here it is checked on every request: one over (time, privilege, staff member) ends and
    the browser goes back to the admin; the staff session's own limits still hold; the
    client's security settings are refused (403 saying why); every request is audited."""
    current_user._get_current_object()  # load the identity: the loader decides if the access holds
    impersonation = g.get("impersonation")
    if impersonation is None and is_client_user(current_user):
        session.pop(IMPERSONATION_SESSION_KEY)  # only a staff login is ever swapped for the client's
        return None
    if impersonation is None:
        return _end_impersonation(g.get("impersonation_ended") or "ended")
    staff = g.impersonating_staff
    ended = _ended_staff_session(staff)
    if ended:
        _end_impersonation("staff session over")
        logout_user()
        session.clear()
        flash(ended, "info")
        return _to("admin.login")
    if endpoint == "auth.logout":  # "Sign out" of the client area: back to the admin, still staff
        return _end_impersonation("signed out")
    actor = Actor.staff(staff, ip=request.remote_addr)
    what = impersonation_refuses(endpoint)
    path = request.full_path.rstrip("?")
    record_impersonation_view(impersonation, request.method, path, refused=bool(what), actor=actor)
    db.session.commit()  # the page view is logged whatever the view does next
    if what:
        raise ImpersonationForbidden(what)
    return None


def _end_impersonation(reason: str) -> Response:
    """End this browser's support access (audited) and send it back to the client's profile
    (or to the admin login when the staff member is signed out too)."""
    staff = current_user if is_staff(current_user) else g.get("impersonating_staff")
    actor = Actor.staff(staff, ip=request.remote_addr) if staff else Actor.system("support-access")
    impersonation = end_impersonation(
        session.pop(IMPERSONATION_SESSION_KEY), reason, staff_id=staff.id if staff else None, actor=actor
    )
    db.session.commit()
    flash(str(IMPERSONATION_ENDED.get(reason) or _("Your sign-in as the client has ended.")), "info")
    if staff is None or impersonation is None:
        return _to("admin.login")
    if staff_can(staff, rule_for("admin.client")):
        return _to("admin.client", client_id=impersonation.client_id)
    return _to("admin.index")


#: What the staff member is told when their support access ended by itself.
IMPERSONATION_ENDED = {
    "time is up": _l("Your time signed in as the client is up: you are back in the admin."),
    "privilege removed": _l("You no longer hold “Log in as a client”: your sign-in as the client has ended."),
    "signed out": _l("You signed out of the client area: you are back in the admin."),
}

#: Endpoints that never load an identity.
_NO_USER = ("static", "healthz", "readyz")


def _ended_staff_session(staff) -> str | None:
    """Why the signed-in staff member's session is over (None while it holds)."""
    if current_app.config["STAFF_2FA_REQUIRED"] and not staff.has_2fa:
        return _("Staff accounts need two-factor authentication: sign in again to set it up.")
    now = int(time.time())
    seen = session.get("staff_seen")
    if seen is not None and now - seen > current_app.config["STAFF_IDLE_MINUTES"] * 60:
        return _("You were signed out after a while without activity. Sign in again to go on.")
    if seen is None or now - seen >= _SEEN_RESOLUTION:
        session["staff_seen"] = now
    return None


def init_app(app: Flask) -> None:
    app.before_request(check_request)
    app.context_processor(lambda: {"impersonation": g.get("impersonation")})
    app.jinja_env.globals.update(may=may, can=may_use, staff_may=staff_may, client_nav=client_nav)
