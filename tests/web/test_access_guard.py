"""Access is decided in one place (app.access.guard) for every endpoint, from the policy table."""

from __future__ import annotations

import pytest

from app.access.policy import PUBLIC, StaffNeed, rule_for
from tests.helpers import login, make_owner

HTMX = {"HX-Request": "true"}


def _sample_url(rule) -> str:
    values = {name: 1 if rule._converters[name].regex == r"\d+" else "x" for name in rule.arguments}
    return rule.build(values, append_unknown=False)[1]


SIGN_IN = {"admin.login", "admin.login_code", "admin.login_enrol", "admin.logout", "admin.accept_invite"}


def test_every_admin_route_but_the_sign_in_steps_needs_staff(app):
    admin = {
        rule.endpoint: rule_for(rule.endpoint)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("admin.")
    }
    public = {endpoint for endpoint, need in admin.items() if need == PUBLIC}
    assert public <= SIGN_IN and "admin.login" in public
    assert all(isinstance(admin[endpoint], StaffNeed) for endpoint in admin.keys() - public)


def test_an_admin_route_the_policy_does_not_name_is_refused(app):
    assert rule_for("admin.something_new") is None  # no admin.* catch-all: the guard answers 404


def test_nobody_signed_in_is_sent_to_the_right_login_from_every_guarded_page(app, client):
    checked = 0
    for rule in app.url_map.iter_rules():
        need = rule_for(rule.endpoint)
        if need == PUBLIC or "GET" not in (rule.methods or ()):
            continue
        path = _sample_url(rule)
        response = client.get(path)
        login_page = "/admin/login" if isinstance(need, StaffNeed) else "/login"
        assert response.status_code == 302, path
        assert response.location.startswith(f"{login_page}?next="), (path, response.location)
        checked += 1
    assert checked >= 25  # the loop saw the client area and the admin


def test_a_route_without_any_decorator_is_guarded_by_its_rule(app, client):
    app.add_url_rule("/wallet/secret", "wallet.secret", lambda: "the balance")
    assert client.get("/wallet/secret").location == "/login?next=/wallet/secret"
    make_owner(app)
    login(client)
    assert client.get("/wallet/secret").get_data(as_text=True) == "the balance"


def test_an_endpoint_no_rule_names_is_a_404_even_signed_in(app, client):
    app.add_url_rule("/nowhere", "nowhere.page", lambda: "should not show")
    make_owner(app)
    login(client)
    assert client.get("/nowhere").status_code == 404


@pytest.mark.parametrize(("path", "login_page"), [("/invoices", "/login"), ("/admin/bank-transfers", "/admin/login")])
def test_an_htmx_request_without_a_login_is_told_to_go_to_the_login_page(client, path, login_page):
    response = client.get(path, headers=HTMX)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == f"{login_page}?next={path}"
    assert response.get_data() == b""  # nothing to swap into the fragment
