"""The dashboard and an invoice page in Romanian for a user whose language is "ro":
labels from the catalog, money formatted by the locale."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import force_locale

from app.clients.models import User
from app.core.money import format_money
from app.extensions import db
from app.invoices.models import Invoice
from tests.helpers import login, make_proforma
from tests.support.i18n import translated


def _speaks_romanian(app, owner) -> None:
    with app.app_context():
        db.session.get(User, owner.user_id).language = "ro"
        db.session.commit()


def test_dashboard_renders_in_romanian(app, client, owner):
    number = make_proforma(app, owner.client_id, 1815)
    with app.app_context():
        due = db.session.scalar(sa.select(Invoice).where(Invoice.number == number)).balance_due_minor
    _speaks_romanian(app, owner)
    login(client)

    page = client.get("/").get_data(as_text=True)

    for label in translated(app, "ro", "Client ID", "Unpaid invoices", "Invoices to pay", "Left to pay"):
        assert label in page
    with app.test_request_context(), force_locale("ro"):
        amount = format_money(due, "EUR")
        line = format_money(1815, "EUR")
    assert line.startswith("18,15")  # the locale's decimal comma (and its currency sign, after)
    assert amount in page
    assert "Invoices to pay" not in page


def test_invoice_page_renders_in_romanian(app, client, owner):
    number = make_proforma(app, owner.client_id, 1815, description="Web hosting")
    _speaks_romanian(app, owner)
    login(client)

    page = client.get(f"/invoices/{number}").get_data(as_text=True)

    for label in translated(app, "ro", "Amount due", "Pay by bank transfer", "Beneficiary", "Unit price"):
        assert label in page
    (proforma,) = translated(app, "ro", "Proforma")
    assert f"{proforma} {number}" in page
    with app.test_request_context(), force_locale("ro"):
        assert format_money(1815, "EUR") in page  # the line's unit price, "18,15" style
    assert "Web hosting" in page  # an invoice line is data: it stays as written
    assert "Pay by bank transfer" not in page
