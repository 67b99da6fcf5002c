"""Ordering from the catalog: cart, checkout, and activation when paid."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.demo import seed_catalog
from app.extensions import db
from app.hosting.models import Product, Service, ServiceStatus
from app.invoices.models import Invoice
from tests.helpers import csrf_token, login, make_owner, pay


@pytest.fixture(autouse=True)
def catalog(app):
    """The demo catalogue, seeded before the owner signs up (autouse fixtures come first)."""
    with app.app_context():
        seed_catalog()
        db.session.commit()


def product_id(app, name: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Product.id).where(Product.name == name))


def add(client, app, name="Web Hosting Pro", cycle="annually", label="shop.example.ro"):
    token = csrf_token(client, "/cart")
    return client.post(
        "/cart/add", data={"csrf_token": token, "product_id": product_id(app, name), "cycle": cycle, "label": label}
    )


def checkout_data(client) -> dict:
    html = client.get("/cart").get_data(as_text=True)
    found = re.search(r'name="order_key" type="hidden" value="([^"]+)"', html)
    return {"csrf_token": csrf_token(client, "/cart"), "order_key": found.group(1) if found else "no-form-shown"}


def test_order_creates_pending_services_and_an_order_proforma_then_activates_on_payment(app, client, owner):
    login(client)
    add(client, app)
    add(client, app, name=".ro domain", label="shop.example.ro")
    cart = client.get("/cart").get_data(as_text=True)
    assert "shop.example.ro" in cart and "€109.80" in cart  # 99.90 + 9.90, VAT excluded

    response = client.post("/cart/checkout", data=checkout_data(client))

    with app.app_context():
        proforma = db.session.scalar(sa.select(Invoice))
        assert response.location == f"/invoices/{proforma.number}"
        assert proforma.origin.value == "order" and proforma.total_minor == 13286
        statuses = db.session.scalars(sa.select(Service.status)).all()
        assert statuses == [ServiceStatus.PENDING, ServiceStatus.PENDING]
    assert "Your cart is empty." in client.get("/cart").get_data(as_text=True)

    pay(app, proforma.number)
    with app.app_context():
        assert set(db.session.scalars(sa.select(Service.status))) == {ServiceStatus.ACTIVE}


def test_a_double_submitted_checkout_places_one_order(app, client, owner):
    login(client)
    add(client, app)
    data = checkout_data(client)
    first = client.post("/cart/checkout", data=data)
    with client.session_transaction() as session:  # the second click still carries the cart
        session["cart"] = [{"product_id": product_id(app, "Web Hosting Pro"), "cycle": "annually", "label": "x.ro"}]
    second = client.post("/cart/checkout", data=data)

    assert first.location == second.location
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Invoice.id))) == 1


def test_another_clients_order_key_places_an_order_of_ones_own(app, client, owner):
    login(client)
    add(client, app)
    data = checkout_data(client)
    client.post("/cart/checkout", data=data)

    someone = make_owner(app, email="other@example.com")
    other = app.test_client()
    login(other, "other@example.com")
    add(other, app, label="other.example.ro")
    response = other.post("/cart/checkout", data={**checkout_data(other), "order_key": data["order_key"]})

    with app.app_context():
        orders = db.session.scalars(sa.select(Invoice).order_by(Invoice.id)).all()
        assert [o.client_id for o in orders] == [owner.client_id, someone.client_id]
        assert response.location == f"/invoices/{orders[1].number}"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"label": "not a domain"}, "Enter a domain name like example.com."),
        ({"label": ""}, "Enter the domain this service is for."),
        ({"cycle": "biennially"}, "This product is not sold for that period."),
    ],
)
def test_bad_cart_item_is_refused_with_a_message(app, client, owner, changes, message):
    login(client)
    response = add(client, app, **changes)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert not session.get("cart")


def test_checkout_of_an_empty_cart_changes_nothing(app, client, owner):
    login(client)
    response = client.post("/cart/checkout", data=checkout_data(client), follow_redirects=True)
    assert "Your cart is empty." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Invoice.id))) == 0


def test_another_clients_service_is_a_404(app, client, owner):
    other = make_owner(app, email="other@example.com")
    from datetime import date

    from tests.helpers import make_service

    theirs = make_service(app, other.client_id, due=date(2026, 12, 1))
    mine = make_service(app, owner.client_id, due=date(2026, 12, 1), label="mine.example.ro")
    login(client)
    assert client.get(f"/services/{theirs}").status_code == 404
    page = client.get(f"/services/{mine}").get_data(as_text=True)
    assert "mine.example.ro" in page and "Renewal timeline" in page
    assert "example.com" not in client.get("/services").get_data(as_text=True)
