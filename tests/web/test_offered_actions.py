"""Nobody is offered an action they may not take: for every combination of a trusted
user's permissions, each link, button and form on each page they can open leads to
an endpoint the policy table lets them open, and the actions they may take are shown."""

from __future__ import annotations

import itertools
import re
from urllib.parse import urlsplit

import pytest
from werkzeug.exceptions import HTTPException

from app.access.policy import PERMISSIONS, can_open, rule_for
from app.clients.models import User
from app.extensions import db
from tests.helpers import credit, csrf_token, login
from tests.support.trusted import add_trusted

COMBINATIONS = [
    list(combo) for size in range(len(PERMISSIONS) + 1) for combo in itertools.combinations(sorted(PERMISSIONS), size)
]

#: Where a customer expects to find each action: (page endpoint, action endpoint).
#: When the user may open the page, the action is offered exactly when they may take it.
EXPECTED_ACTIONS = [
    ("invoices.index", "wallet.pay"),
    ("invoices.view", "wallet.pay"),
    ("invoices.view", "invoices.billing"),
    ("invoices.view", "invoices.pdf"),
    ("hosting.services", "hosting.cart"),
    ("dashboard.index", "wallet.index"),
    ("dashboard.index", "invoices.index"),
    ("dashboard.index", "hosting.services"),
    ("dashboard.index", "trusted_users.index"),
    ("wallet.index", "wallet.add_funds"),
    ("hosting.cart", "hosting.cart_add"),
]

_TARGET = re.compile(r'\s(?:href|action|hx-get|hx-post|formaction)="([^"]*)"')
_FORM = re.compile(r"<form\b[^>]*>", re.I)


@pytest.fixture
def world_with_wallet(app, world):
    """`world` (an unpaid proforma, a service with an open renewal, a transfer) with
    wallet history too; `values` holds only the proforma, service and transfer."""
    credit(app, world["owner"].client_id, 500)
    keep = ("number", "service_id", "transfer_id")
    return {"owner": world["owner"], "values": {k: world["values"][k] for k in keep}}


def client_pages(app, values: dict):
    """(endpoint, url) of every client-area GET page whose arguments the world fills."""
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            need = rule_for(rule.endpoint)
            if rule.endpoint.startswith(("admin.", "static", "auth.")) or need in (None, "public"):
                continue
            if "GET" not in (rule.methods or ()) or not set(rule.arguments) <= values.keys():
                continue
            yield rule.endpoint, rule.build({k: values[k] for k in rule.arguments}, append_unknown=False)[1]


def offered(app, html: str) -> set[str]:
    """The endpoints the page's links, buttons and forms lead to."""
    adapter = app.url_map.bind("localhost")
    endpoints = set()
    posts = {m for form in _FORM.findall(html) if 'method="post"' in form for m in _TARGET.findall(form)}
    for target in _TARGET.findall(html):
        parts = urlsplit(target.replace("&amp;", "&"))
        if parts.netloc or not parts.path.startswith("/"):
            continue
        method = "POST" if target in posts else "GET"
        try:
            endpoint, _ = adapter.match(parts.path, method=method)
        except HTTPException:
            try:
                endpoint, _ = adapter.match(parts.path, method="POST")
            except HTTPException:
                continue
        endpoints.add(endpoint)
    return endpoints


@pytest.mark.parametrize("permissions", COMBINATIONS, ids=lambda combo: "+".join(combo) or "none")
def test_every_action_shown_is_one_the_user_may_take(app, world_with_wallet, permissions):
    add_trusted(app, world_with_wallet["owner"].client_id, permissions, "trusted@example.com")
    client = app.test_client()
    assert login(client, "trusted@example.com", "trusted-password-1").location == "/"
    csrf_token(client, "/")
    with app.app_context():
        user = db.session.query(User).filter_by(email="trusted@example.com").one()

        walked = {}
        for endpoint, url in client_pages(app, world_with_wallet["values"]):
            if not can_open(user, endpoint):
                continue
            response = client.get(url)
            assert response.status_code not in (403, 500), f"GET {url} answered {response.status_code}"
            if response.status_code != 200 or response.mimetype != "text/html":
                continue  # a download, a redirect, or nothing there (no avatar, no proof yet)
            walked[endpoint] = offered(app, response.get_data(as_text=True))
            refused = sorted(e for e in walked[endpoint] if not can_open(user, e))
            assert refused == [], f"{url} offers what {permissions or 'no permission'} may not open: {refused}"

        assert "dashboard.index" in walked
        for page, action in EXPECTED_ACTIONS:
            if page in walked:
                shown = action in walked[page]
                assert shown == can_open(user, action), f"{page}: {action} shown={shown}"


def test_ordering_needs_the_services_and_the_invoice_permissions(app, world_with_wallet):
    add_trusted(app, world_with_wallet["owner"].client_id, ["services"], "services@example.com")
    client = app.test_client()
    login(client, "services@example.com", "trusted-password-1")

    assert client.get("/services").status_code == 200
    assert client.get("/cart").status_code == 403
    checkout = client.post("/cart/checkout", data={"csrf_token": csrf_token(client, "/"), "order_key": "k-1"})
    assert checkout.status_code == 403
    assert rule_for("hosting.checkout") == rule_for("hosting.cart") == ("services", "invoices.view", "invoices.pay")
