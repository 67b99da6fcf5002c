"""A tax invoice (page and PDF) and its paid proforma say how they were paid: balance, card, when, how much."""

from __future__ import annotations

import io
import re

import sqlalchemy as sa
from pypdf import PdfReader

from app.extensions import db
from app.invoices.models import DocumentKind, Invoice
from tests.helpers import client_today, credit, login, make_proforma
from tests.support.wallet import MASTERCARD, card, pay_form


def tax_invoice_of(app, proforma_number: str) -> str:
    with app.app_context():
        proforma_id = db.session.scalar(sa.select(Invoice.id).where(Invoice.number == proforma_number))
        return db.session.scalar(
            sa.select(Invoice.number).where(Invoice.source_id == proforma_id, Invoice.kind == DocumentKind.TAX_INVOICE)
        )


def payment_rows(html: str) -> list[tuple[str, str, str]]:
    section = re.search(r'<section class="section" id="payment-methods">.*?</section>', html, re.S)
    assert section, "no payment section on the page"
    return re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td><td class=\"num\">([^<]+)</td></tr>", section.group(0))


def pdf_text(response) -> str:
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)


def test_paid_from_the_balance(app, client, owner):
    number = make_proforma(app, owner.client_id, 1000)  # 12.10 with VAT
    credit(app, owner.client_id, 5000)
    login(client)
    assert pay_form(client, number, use_balance="y").status_code == 302
    tax_number = tax_invoice_of(app, number)
    day = client_today(app, owner.client_id).strftime("%d %b %Y")

    tax_page = client.get(f"/invoices/{tax_number}").get_data(as_text=True)
    proforma_page = client.get(f"/invoices/{number}").get_data(as_text=True)
    text = pdf_text(client.get(f"/invoices/{tax_number}/pdf"))

    assert payment_rows(tax_page) == [("Account balance", day, "€12.10")]
    assert payment_rows(proforma_page) == payment_rows(tax_page)
    assert f"Paid: Account balance, {day}, €12.10." in text


def test_paid_partly_from_the_balance_and_the_rest_by_card(app, client, owner):
    number = make_proforma(app, owner.client_id, 1000)
    credit(app, owner.client_id, 500)
    login(client)
    assert pay_form(client, number, use_balance="y", **card(MASTERCARD)).status_code == 302
    tax_number = tax_invoice_of(app, number)
    day = client_today(app, owner.client_id).strftime("%d %b %Y")

    rows = payment_rows(client.get(f"/invoices/{tax_number}").get_data(as_text=True))
    text = pdf_text(client.get(f"/invoices/{tax_number}/pdf"))

    assert rows == [("Account balance", day, "€5.00"), ("MasterCard card ending in 4444", day, "€7.10")]
    assert f"Paid: Account balance, {day}, €5.00; MasterCard card ending in 4444, {day}, €7.10." in text


def test_one_card_charge_for_two_invoices_is_split_between_them(app, client, owner):
    first = make_proforma(app, owner.client_id, 1000)  # 12.10
    second = make_proforma(app, owner.client_id, 2000)  # 24.20
    credit(app, owner.client_id, 1500)
    login(client)
    assert pay_form(client, first, second, use_balance="y", **card()).status_code == 302

    rows = {
        n: payment_rows(client.get(f"/invoices/{tax_invoice_of(app, n)}").get_data(as_text=True))
        for n in (first, second)
    }

    # The balance pays first (15.00: all of the first, 2.90 of the second), the card (21.30) the rest.
    assert [(label, amount) for label, _, amount in rows[first]] == [("Account balance", "€12.10")]
    assert [(label, amount) for label, _, amount in rows[second]] == [
        ("Account balance", "€2.90"),
        ("Visa card ending in 4242", "€21.30"),
    ]


def test_an_unpaid_proforma_has_no_payment_section(app, client, owner):
    number = make_proforma(app, owner.client_id, 1000)
    login(client)
    page = client.get(f"/invoices/{number}").get_data(as_text=True)
    assert 'id="payment-methods"' not in page and "How it was paid" not in page
    assert "Paid:" not in pdf_text(client.get(f"/invoices/{number}/pdf"))
