"""Helpers for tests: CSRF tokens, accounts, logging in."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa

from app.auth.services import SignUp, register_client
from app.clients.models import ClientKind
from app.extensions import db

_CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf-token" content="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF_RE.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


def csrf_token(client, url: str = "/login") -> str:
    """The CSRF token of this client's session, read from a real page."""
    return csrf_from(client.get(url).get_data(as_text=True))


@dataclass(frozen=True)
class Account:
    user_id: int
    client_id: int
    email: str
    password: str


def make_owner(app, email: str = "owner@example.com", password: str = "correct-horse-1", **fields) -> Account:
    """A committed client with its owner user, made through the sign-up service."""
    data = {
        "email": email,
        "password": password,
        "name": "Ion Ionescu",
        "kind": ClientKind.PERSON,
        "country": "RO",
        **fields,
    }
    with app.app_context():
        user = register_client(SignUp(**data))
        db.session.commit()
        return Account(user.id, user.client_id, email, password)


def count(app, model, *where) -> int:
    """How many rows of `model` match `where`."""
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def login(client, email: str = "owner@example.com", password: str = "correct-horse-1", **extra):
    """Log in through the real form (CSRF included); returns the response."""
    token = csrf_token(client, "/login")
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token, **extra})


def make_service(
    app,
    client_id: int,
    *,
    due,
    price_minor: int = 1000,
    cycle: str = "monthly",
    status: str = "active",
    label: str = "example.com",
    group: str | None = None,
    hide_group: bool = False,
) -> int:
    """An existing service (as if imported or renewed before) of a client; returns its id."""
    from app.demo import seed_catalog
    from app.hosting.models import BillingCycle, Product, Service, ServiceGroup, ServiceStatus

    with app.app_context():
        seed_catalog()
        product = db.session.scalars(sa.select(Product).order_by(Product.id)).first()
        group_row = None
        if group:
            group_row = db.session.scalar(
                sa.select(ServiceGroup).where(ServiceGroup.client_id == client_id, ServiceGroup.name == group)
            ) or ServiceGroup(client_id=client_id, name=group, hide_on_invoice=hide_group)
        service = Service(
            client_id=client_id,
            product_id=product.id,
            group=group_row,
            label=label,
            cycle=BillingCycle(cycle),
            price_minor=price_minor,
            currency="EUR",
            status=ServiceStatus(status),
            next_due_date=due,
        )
        db.session.add(service)
        db.session.commit()
        return service.id


def make_proforma(app, client_id: int, amount_minor: int = 1000, description: str = "Web hosting") -> str:
    """An unpaid order proforma for a client; returns its number."""
    from datetime import date

    from app.clients.models import Client
    from app.invoices.models import ProformaOrigin
    from app.invoices.services import LineSpec, create_proforma

    with app.app_context():
        client = db.session.get(Client, client_id)
        proforma = create_proforma(
            client,
            [LineSpec(description, amount_minor)],
            origin=ProformaOrigin.ORDER,
            issue_date=date(2026, 11, 1),
            due_date=date(2026, 11, 8),
        )
        db.session.commit()
        return proforma.number


def pay(app, number: str) -> str:
    """Pay a proforma in full; returns the tax invoice number."""
    from app.invoices.models import Invoice
    from app.invoices.services import record_payment

    with app.app_context():
        proforma = db.session.scalar(sa.select(Invoice).where(Invoice.number == number))
        tax_invoice = record_payment(proforma.id, proforma.total_minor)
        db.session.commit()
        return tax_invoice.number


def credit(app, client_id: int, amount_minor: int, key: str | None = None) -> None:
    """Put money in a client's wallet (a staff adjustment)."""
    import uuid

    from app.wallet.models import EntryKind
    from app.wallet.services import post_entry

    with app.app_context():
        post_entry(
            client_id,
            amount_minor,
            EntryKind.ADJUSTMENT,
            key=key or uuid.uuid4().hex,
            actor="staff:1",
            description="Test credit",
        )
        db.session.commit()


def balance(app, client_id: int) -> int:
    from app.clients.models import Client

    with app.app_context():
        return db.session.get(Client, client_id).balance_minor
