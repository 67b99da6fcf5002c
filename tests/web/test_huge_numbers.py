"""Ids and page numbers beyond what a database column holds are a 404, never a 500."""

from __future__ import annotations

import pytest
from werkzeug.routing import IntegerConverter

from app.core.ids import MAX_ID
from tests.helpers import csrf_token, login, make_owner, make_proforma
from tests.support.staff import make_staff, sign_in_staff

#: Just past PostgreSQL's INTEGER, past SQLite's 64-bit integer, and far beyond.
HUGE = [2**31, 2**63, 10**20]

#: Values for the routes' other (string) arguments.
OTHER_ARGUMENTS = {"number": "INV-1", "token": "not-a-token", "gateway": "test", "filename": "x", "tab": "summary"}


def staff_login(client, app):
    response = sign_in_staff(client, make_staff(app, superuser=True, email="ops@example.com"))
    assert response.location == "/admin/"


def int_routes(app):
    """Every rule with an <int:...> argument, with one allowed method."""
    rules = []
    for rule in app.url_map.iter_rules():
        ints = [name for name, conv in rule._converters.items() if isinstance(conv, IntegerConverter)]
        if ints:
            rules.append((rule, ints))
    return rules


def urls_with(app, rule, ints, value: int) -> str:
    values = {name: value if name in ints else OTHER_ARGUMENTS[name] for name in rule.arguments}
    # Build by hand: the converter itself refuses to build an out-of-range value.
    url = rule.rule
    for name in rule.arguments:
        url = url.replace(f"<int:{name}>", str(values[name])).replace(f"<{name}>", str(values[name]))
    return url


@pytest.mark.parametrize("value", HUGE)
def test_every_int_route_answers_404_to_an_id_no_column_holds(app, value):
    owner = make_owner(app)
    client = app.test_client()
    login(client, owner.email, owner.password)
    staff = app.test_client()
    staff_login(staff, app)

    routes = int_routes(app)
    assert len(routes) >= 10
    for rule, ints in routes:
        who = staff if rule.endpoint.startswith("admin.") else client
        url = urls_with(app, rule, ints, value)
        for method in sorted((rule.methods or set()) & {"GET", "POST"}):
            if method == "GET":
                response = who.get(url)
            else:
                response = who.post(url, data={"csrf_token": csrf_token(who, "/admin/" if who is staff else "/")})
            assert response.status_code == 404, f"{method} {url} answered {response.status_code}"
            assert "Page not found" in response.get_data(as_text=True)


def test_the_largest_id_a_column_holds_is_an_ordinary_404(app):
    owner = make_owner(app)
    client = app.test_client()
    login(client, owner.email, owner.password)
    assert client.get(f"/services/{MAX_ID}").status_code == 404
    assert client.get(f"/trusted-users/{MAX_ID}/edit").status_code == 404


@pytest.mark.parametrize("path", ["/invoices", "/invoices?status=unpaid&", "/wallet", "/account/notifications"])
@pytest.mark.parametrize("page", ["99999999999999999999", str(2**63), str(2**31)])
def test_a_page_number_beyond_any_list_is_a_404(app, path, page):
    owner = make_owner(app)
    make_proforma(app, owner.client_id)
    client = app.test_client()
    login(client, owner.email, owner.password)

    sep = "" if path.endswith("&") else "?"
    response = client.get(f"{path}{sep}page={page}")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)
    # An ordinary page number still answers (an old bookmark of a keyset list goes to its
    # first page), and a page that is not a number is the first.
    assert client.get(f"{path}{sep}page=2", follow_redirects=True).status_code == 200
    first = client.get(f"{path}{sep}page=abc")
    assert first.status_code == 200


def test_a_huge_invoice_number_is_a_404(app):
    owner = make_owner(app)
    client = app.test_client()
    login(client, owner.email, owner.password)
    for path in ("/invoices/{}", "/invoices/{}/pdf", "/invoices/{}/billing"):
        assert client.get(path.format(10**40)).status_code == 404
