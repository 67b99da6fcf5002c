"""The dashboard's services tile: with no service it offers the catalog instead of "All running"."""

from __future__ import annotations

import re
from datetime import timedelta

from app.core.dates import today
from tests.helpers import login, make_owner, make_service
from tests.support.trusted import add_trusted


def summary(page: str) -> str:
    match = re.search(r'<section class="tiles" id="summary".*?</section>', page, re.S)
    assert match, "no summary tiles on the dashboard"
    return match.group(0)


def test_a_client_without_services_is_offered_the_catalog(app, client):
    make_owner(app)
    login(client)

    tiles = summary(client.get("/").get_data(as_text=True))

    assert "All running" not in tiles
    offer = re.search(r'<a class="tile tile-link" href="([^"]+)" id="services-tile-empty">.*?</a>', tiles, re.S)
    assert offer, "the services tile offers the catalog"
    assert offer.group(1) == "/cart"
    assert "No services yet — browse hosting plans" in offer.group(0)
    assert client.get(offer.group(1)).status_code == 200, "the owner may order"


def test_running_and_terminated_services(app, client):
    owner = make_owner(app)
    login(client)
    make_service(app, owner.client_id, due=today() + timedelta(days=30), status="terminated")
    assert "No services yet" in summary(client.get("/").get_data(as_text=True)), "a terminated one is gone"

    make_service(app, owner.client_id, due=today() + timedelta(days=30), label="site.example")
    tiles = summary(client.get("/").get_data(as_text=True))

    assert "All running" in tiles and "No services yet" not in tiles
    assert 'href="/services"' in tiles


def test_a_pending_order_is_not_all_running(app, client):
    owner = make_owner(app)
    make_service(app, owner.client_id, due=today() + timedelta(days=30), status="pending")
    login(client)

    tiles = summary(client.get("/").get_data(as_text=True))

    assert "1 waiting for payment" in tiles and "All running" not in tiles and "No services yet" not in tiles


def test_a_user_who_may_not_order_is_not_offered_the_catalog(app, client):
    owner = make_owner(app)
    add_trusted(app, owner.client_id, ["invoices.view"], "viewer@example.com")
    login(client, "viewer@example.com", "trusted-password-1")

    page = client.get("/").get_data(as_text=True)

    assert "No services yet" not in page and 'href="/cart"' not in summary(page)
    assert client.get("/cart").status_code in (403, 404)
