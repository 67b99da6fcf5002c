"""Permissions of trusted users, checked over every client-area route."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.access.policy import ANY_USER, OWNER, PERMISSIONS, PUBLIC, rule_for
from app.clients.models import User
from app.extensions import db
from tests.helpers import csrf_token, login
from tests.support.trusted import add_trusted


def test_every_route_is_named_by_a_policy_rule(app):
    """Deny by default: a route no rule names would answer 404 to everyone."""
    missing = [rule.endpoint for rule in app.url_map.iter_rules() if rule_for(rule.endpoint) is None]
    assert missing == []


def guarded_routes(app):
    """(rule, method, need) for every client-area route that needs a permission or the owner."""
    for rule in app.url_map.iter_rules():
        need = rule_for(rule.endpoint)
        if need in (PUBLIC, ANY_USER) or rule.endpoint.startswith("admin."):
            continue
        for method in sorted((rule.methods or set()) & {"GET", "POST"}):
            yield rule, method, need


def call(client, app, rule, method: str, values: dict):
    with app.test_request_context():
        url = rule.build({k: values[k] for k in rule.arguments}, append_unknown=False)[1]
    if method == "GET":
        return client.get(url)
    return client.post(url, data={"csrf_token": csrf_token(client, "/")})


@pytest.mark.parametrize("permission", sorted(PERMISSIONS))
def test_a_trusted_user_without_a_permission_is_refused_everywhere_it_is_needed(app, world, permission):
    others = [p for p in PERMISSIONS if p != permission]
    add_trusted(app, world["owner"].client_id, others, "without@example.com")
    client = app.test_client()
    assert login(client, "without@example.com", "trusted-password-1").location == "/"

    checked = 0
    for rule, method, need in guarded_routes(app):
        if need not in (permission, OWNER):
            continue
        response = call(client, app, rule, method, world["values"])
        assert response.status_code in (403, 404), f"{method} {rule.rule} answered {response.status_code}"
        checked += 1
    assert checked > 0


@pytest.mark.parametrize("permission", sorted(PERMISSIONS))
def test_a_trusted_user_with_the_permission_gets_through(app, world, permission):
    add_trusted(app, world["owner"].client_id, [permission], "with@example.com")
    client = app.test_client()
    login(client, "with@example.com", "trusted-password-1")

    for rule, method, need in guarded_routes(app):
        if need != permission or method != "GET":
            continue
        response = call(client, app, rule, method, world["values"])
        assert response.status_code not in (403, 500), f"GET {rule.rule} answered {response.status_code}"


def test_the_menu_shows_only_what_a_trusted_user_may_open(app, world):
    add_trusted(app, world["owner"].client_id, ["invoices.view"], "menu@example.com")
    client = app.test_client()
    login(client, "menu@example.com", "trusted-password-1")
    nav = client.get("/").get_data(as_text=True).split('aria-label="Client area"')[1].split("</nav>")[0]
    assert 'href="/invoices"' in nav
    assert 'href="/wallet"' not in nav and 'href="/services"' not in nav and 'href="/trusted-users"' not in nav


def test_the_owner_may_open_everything(app, world):
    client = app.test_client()
    login(client)
    for rule, method, _need in guarded_routes(app):
        if method != "GET":
            continue
        response = call(client, app, rule, method, world["values"])
        assert response.status_code not in (403, 500), f"GET {rule.rule} answered {response.status_code}"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(User.id))) == 1


def test_the_dashboard_hides_what_a_trusted_user_may_not_see(app, world):
    add_trusted(app, world["owner"].client_id, ["services"], "dash@example.com")
    client = app.test_client()
    login(client, "dash@example.com", "trusted-password-1")
    page = client.get("/").get_data(as_text=True)
    assert "Active services" in page
    assert "Account balance" not in page and "Unpaid invoices" not in page and "Trusted users" not in page
