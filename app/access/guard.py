"""The access policy applied to every request, before any view runs.

One place decides: the endpoint's rule in app.access.policy says whether it is
public, needs a signed-in client user (and which permission), or staff. Nobody
signed in goes to the right login page (an htmx request is told to go there:
HX-Redirect, not a login page swapped into a fragment); the other kind of
identity goes to its own home; a client user without the permission gets 403; an
endpoint the table does not name is a 404.
"""

from __future__ import annotations

from flask import Flask, Response, abort, redirect, request, url_for
from flask_login import current_user

from app.access.menu import client_nav
from app.access.policy import PUBLIC, STAFF, can, is_client_user, is_staff, may, may_use, rule_for


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
    if need == STAFF:
        if is_staff(current_user):
            return None
        if current_user.is_authenticated:
            return _to("admin.login")  # a client user in the admin
        return _to("admin.login", next=request.full_path.rstrip("?"))
    if not current_user.is_authenticated:
        return _to("auth.login", next=request.full_path.rstrip("?"))
    if not is_client_user(current_user):
        return _to("admin.index")  # staff in the client area: send them home
    if not can(current_user, need):
        abort(403)
    return None


def init_app(app: Flask) -> None:
    app.before_request(check_request)
    app.jinja_env.globals.update(may=may, can=may_use, client_nav=client_nav)
