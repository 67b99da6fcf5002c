"""Every admin route needs a privilege named in the access policy, checked there: a staff
member without it gets 403 in the admin layout, whatever the method."""

from __future__ import annotations

import pytest

from app.access.policy import PUBLIC, StaffNeed, rule_for
from app.staff import privileges as P
from tests.helpers import csrf_from
from tests.support.staff import make_staff, sign_in_staff

#: The whole matrix on one backend: it tests the guard, not the database.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _sample_url(rule) -> str:
    values = {name: 1 if rule._converters[name].regex == r"\d+" else "summary" for name in rule.arguments}
    return rule.build(values, append_unknown=False)[1]


def _admin_rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("admin.")]


def test_every_admin_route_is_public_sign_in_or_names_its_staff_need(app):
    for rule in _admin_rules(app):
        need = rule_for(rule.endpoint)
        assert need == PUBLIC or isinstance(need, StaffNeed), f"{rule.endpoint} ({rule.rule}) has no staff rule"
        if isinstance(need, StaffNeed) and need.privilege is not None:
            assert need.privilege in P.PRIVILEGES


def test_a_staff_member_without_a_privilege_gets_403_with_the_layout_on_each_route_needing_it(app):
    needed: dict[str, list] = {}
    for rule in _admin_rules(app):
        privilege = getattr(rule_for(rule.endpoint), "privilege", None)
        if privilege:
            needed.setdefault(privilege, []).append(rule)
    # The pages built so far need at least these; each privilege a route needs is checked.
    assert {P.VIEW_CLIENTS, P.APPROVE_PAYMENTS, P.MANAGE_BILLING} <= needed.keys()
    for number, (privilege, routes) in enumerate(sorted(needed.items(), key=lambda item: item[0])):
        others = [p for p in P.PRIVILEGES if p != privilege]
        staff = make_staff(app, *others, email=f"almost{number}@example.com")
        client = app.test_client()
        sign_in_staff(client, staff)
        token = csrf_from(client.get("/admin/").get_data(as_text=True))
        for rule in routes:
            url = _sample_url(rule)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                response = client.open(url, method=method, data={"csrf_token": token} if method != "GET" else None)
                page = response.get_data(as_text=True)
                assert response.status_code == 403, (privilege, method, url, response.status_code)
                assert 'aria-label="Admin"' in page, f"{method} {url}: 403 without the admin layout"
                assert f"\u201c{P.PRIVILEGES[privilege]}\u201d" in page, f"{method} {url}: privilege unnamed"


def test_the_same_routes_open_for_a_staff_member_holding_the_privilege(app):
    staff = make_staff(app, P.VIEW_CLIENTS, P.APPROVE_PAYMENTS, P.MANAGE_BILLING, email="clerk2@example.com")
    client = app.test_client()
    sign_in_staff(client, staff)
    for path in (
        "/admin/bank-transfers",
        "/admin/messages/failed",
        "/admin/erasure-requests",
        "/admin/billing-runs",
        "/admin/approvals",
    ):
        assert client.get(path).status_code == 200, path


def test_any_staff_member_reaches_the_home_and_sees_only_what_their_roles_allow(app):
    staff = make_staff(app, email="nobody@example.com")  # no role at all
    client = app.test_client()
    sign_in_staff(client, staff)
    page = client.get("/admin/").get_data(as_text=True)
    assert "What waits for you" in page
    for hidden in ("/admin/bank-transfers", "/admin/messages/failed", "/admin/billing-runs"):
        assert f'href="{hidden}"' not in page, f"{hidden} offered without the privilege"
