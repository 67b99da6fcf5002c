"""Helpers for tests: CSRF tokens, accounts, logging in, rows built with the
factories of tests/factories.py (each helper opens its own app context and commits)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa

from app.extensions import db
from tests import factories
from tests.factories import OWNER_EMAIL, OWNER_PASSWORD

_CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf-token" content="([^"]+)"')


def wrong_totp(secret: str) -> str:
    """A six-digit code that no TOTP step around now accepts for `secret` (a fixed
    "000000" is right about once in 333,000 runs)."""
    from app.core.totp import matching_step

    return next(code for code in ("000000", "111111", "222222", "333333") if matching_step(secret, code) is None)


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


def make_owner(app, email: str = OWNER_EMAIL, password: str = OWNER_PASSWORD, **fields) -> Account:
    """A committed client with its owner user, made through the sign-up service
    (OwnerFactory); `fields` are SignUp fields (phone, sms_opt_in, kind, country...)."""
    with app.app_context():
        user = factories.OwnerFactory(email=email, password=password, **fields)
        db.session.commit()
        return Account(user.id, user.client_id, email, password)


def count(app, model, *where) -> int:
    """How many rows of `model` match `where`."""
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def login(client, email: str = OWNER_EMAIL, password: str = OWNER_PASSWORD, **extra):
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
    from app.hosting.models import BillingCycle, ServiceGroup, ServiceStatus

    with app.app_context():
        product = factories.first_product()
        group_row = None
        if group:
            group_row = db.session.scalar(
                sa.select(ServiceGroup).where(ServiceGroup.client_id == client_id, ServiceGroup.name == group)
            ) or factories.ServiceGroupFactory.build(client_id=client_id, name=group, hide_on_invoice=hide_group)
        service = factories.ServiceFactory(
            client_id=client_id,
            product_id=product.id,
            group=group_row,
            label=label,
            cycle=BillingCycle(cycle),
            price_minor=price_minor,
            status=ServiceStatus(status),
            next_due_date=due,
        )
        db.session.commit()
        return service.id


def make_proforma(app, client_id: int, amount_minor: int = 1000, description: str = "Web hosting") -> str:
    """An unpaid order proforma for a client (ProformaFactory); returns its number."""
    from app.invoices.services import LineSpec

    with app.app_context():
        proforma = factories.ProformaFactory(client_id=client_id, lines=[LineSpec(description, amount_minor)])
        db.session.commit()
        return proforma.number


def pay(app, number: str) -> str:
    """Pay a proforma in full (the real settle path); returns the tax invoice number."""
    from app.invoices.models import Invoice

    with app.app_context():
        proforma = db.session.scalar(sa.select(Invoice).where(Invoice.number == number))
        tax_invoice = factories.TaxInvoiceFactory(proforma=proforma)
        db.session.commit()
        return tax_invoice.number


def credit(app, client_id: int, amount_minor: int, key: str | None = None) -> None:
    """Put money in a client's wallet (a staff adjustment through post_entry)."""
    with app.app_context():
        extra = {"key": key} if key else {}
        factories.LedgerEntryFactory(client_id=client_id, amount_minor=amount_minor, **extra)
        db.session.commit()


def balance(app, client_id: int) -> int:
    from app.clients.models import Client

    with app.app_context():
        return db.session.get(Client, client_id).balance_minor


def client_today(app, client_id: int):
    """Today in the client's time zone, as its pages show dates (the machine's UTC day differs late in the evening)."""
    from app.clients.models import Client
    from app.core.dates import today

    with app.app_context():
        return today(db.session.get(Client, client_id).timezone)


def count_statements(app, action) -> int:
    """How many SQL statements `action()` (a request, usually) sends to the database;
    a response it returns must be a 200 (an error page's count proves nothing)."""
    seen = []
    with app.app_context():
        engine = db.engine

    def tally(*_):
        seen.append(1)

    sa.event.listen(engine, "before_cursor_execute", tally)
    try:
        response = action()
    finally:
        sa.event.remove(engine, "before_cursor_execute", tally)
    assert getattr(response, "status_code", 200) == 200, response.status_code
    return len(seen)
