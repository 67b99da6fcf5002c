"""Credit notes of a tax invoice: whole, by line (a quantity of it) or by amount (one
adjustment line at the invoice's VAT rate), never more than is left, a gapless CN series,
immutable in the database, a PDF naming the invoice, and listed beside it for the client."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from app.core.errors import DomainError, ValidationError
from app.extensions import db
from app.invoices.models import DocumentKind, Invoice
from app.invoices.services import LineCredit, LineSpec, credit_left, issue_credit_note
from tests.factories import ProformaFactory
from tests.helpers import login, make_proforma, pay


def by_number(number: str) -> Invoice:
    return db.session.scalar(sa.select(Invoice).where(Invoice.number == number))


def three_line_invoice(app, client_id: int) -> str:
    """A paid tax invoice: 3 x 10.00 hosting, 1 x 5.00 domain (35.00 + 21% VAT = 42.35)."""
    with app.app_context():
        proforma = ProformaFactory(
            client_id=client_id, lines=[LineSpec("Web hosting", 1000, quantity=3), LineSpec("Domain", 500)]
        )
        db.session.commit()
        number = proforma.number
    return pay(app, number)


def test_by_line_a_quantity_then_the_rest_never_more_than_left(app, owner):
    number = three_line_invoice(app, owner.client_id)
    with app.app_context():
        invoice = by_number(number)
        hosting, domain = invoice.lines
        assert (invoice.subtotal_minor, invoice.tax_minor, invoice.total_minor) == (3500, 735, 4235)

        first = issue_credit_note(invoice, reason="one month unused", lines=[LineCredit(hosting.id, 1)])
        db.session.commit()
        assert [(line.quantity, line.amount_minor, line.credited_line_id) for line in first.lines] == [
            (1, -1000, hosting.id)
        ]
        assert (first.subtotal_minor, first.tax_minor, first.total_minor) == (-1000, -210, -1210)
        assert first.credit_reason == "one month unused"

        with pytest.raises(ValidationError, match="has 2 left to credit") as refused:
            issue_credit_note(invoice, reason="too much", lines=[LineCredit(hosting.id, 3)])
        assert refused.value.field == "lines"
        db.session.rollback()

        # The whole of what is left: the other two months and the domain, to the cent.
        rest = issue_credit_note(by_number(number), reason="closed")
        db.session.commit()
        assert [(line.quantity, line.amount_minor) for line in rest.lines] == [(2, -2000), (1, -500)]
        assert rest.total_minor + first.total_minor == -invoice.total_minor
        assert rest.tax_minor + first.tax_minor == -invoice.tax_minor
        assert credit_left(by_number(number)).total_minor == 0
        with pytest.raises(DomainError, match="already fully credited"):
            issue_credit_note(by_number(number), reason="again", lines=[LineCredit(domain.id)])


def test_by_amount_one_adjustment_line_at_the_invoice_rate_never_more_than_left(app, owner):
    number = pay(app, make_proforma(app, owner.client_id, 1000))  # 12.10
    with app.app_context():
        invoice = by_number(number)
        note = issue_credit_note(invoice, reason="goodwill", amount_minor=500)
        db.session.commit()
        assert [(line.description, line.quantity, line.amount_minor) for line in note.lines] == [
            (f"Adjustment of invoice {number}", 1, -413)
        ]
        assert (note.subtotal_minor, note.tax_minor, note.total_minor) == (-413, -87, -500)
        assert note.tax_rate_bp == invoice.tax_rate_bp == 2100

        with pytest.raises(ValidationError, match=r"Only €7\.10 is left to credit") as refused:
            issue_credit_note(invoice, reason="too much", amount_minor=711)
        assert refused.value.field == "amount"
        db.session.rollback()
        rest = issue_credit_note(by_number(number), reason="the rest", amount_minor=710)
        db.session.commit()
        assert (note.subtotal_minor + rest.subtotal_minor, note.tax_minor + rest.tax_minor) == (-1000, -210)
        # After a credit by amount, "whole" has nothing left: refused, nothing written.
        with pytest.raises(DomainError, match="already fully credited"):
            issue_credit_note(by_number(number), reason="whole")
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).where(Invoice.kind == DocumentKind.CREDIT_NOTE)) == 2


def test_a_reason_is_required(app, owner):
    number = pay(app, make_proforma(app, owner.client_id, 1000))
    with app.app_context(), pytest.raises(ValidationError, match="reason") as refused:
        issue_credit_note(by_number(number), reason="  ")
    assert refused.value.field == "reason"


def test_credit_note_numbers_are_their_own_gapless_series(app, owner):
    numbers = [pay(app, make_proforma(app, owner.client_id, 1000 + i)) for i in range(3)]
    with app.app_context():
        notes = [issue_credit_note(by_number(n), reason="refund", amount_minor=100).number for n in numbers]
        # A refused credit note takes no number.
        with pytest.raises(ValidationError):
            issue_credit_note(by_number(numbers[0]), reason="refund", amount_minor=10**6)
        notes.append(issue_credit_note(by_number(numbers[1]), reason="refund", amount_minor=100).number)
        db.session.commit()
    year = notes[0].split("-")[1]
    assert notes == [f"CN-{year}-{n:06d}" for n in range(1, 5)]
    assert all(n.startswith("F-") for n in numbers)


def test_the_database_refuses_to_update_or_delete_a_credit_note_or_its_lines(app, owner):
    number = pay(app, make_proforma(app, owner.client_id, 1000))
    with app.app_context():
        note = issue_credit_note(by_number(number), reason="refund", amount_minor=300)
        db.session.commit()
        note_id = note.id
        for statement in (
            "UPDATE invoices SET total_minor = 0, subtotal_minor = 0, tax_minor = 0 WHERE id = :id",
            "UPDATE invoices SET credit_reason = 'changed' WHERE id = :id",
            "DELETE FROM invoices WHERE id = :id",
            "UPDATE invoice_lines SET amount_minor = 0 WHERE invoice_id = :id",
            "DELETE FROM invoice_lines WHERE invoice_id = :id",
        ):
            with pytest.raises(sa.exc.DatabaseError, match="tax documents are immutable"), db.session.begin_nested():
                db.session.execute(sa.text(statement), {"id": note_id})
        db.session.rollback()
        stored = db.session.get(Invoice, note_id, populate_existing=True)
        assert (stored.total_minor, stored.credit_reason, len(stored.lines)) == (-300, "refund", 1)


def test_the_client_sees_the_credit_note_beside_the_invoice_and_its_pdf(app, client, owner):
    number = pay(app, make_proforma(app, owner.client_id, 1000))
    with app.app_context():
        note_number = issue_credit_note(by_number(number), reason="service not delivered").number
        db.session.commit()
    login(client)
    page = client.get(f"/invoices/{number}").get_data(as_text=True)
    assert 'id="credit-notes"' in page and f'href="/invoices/{note_number}"' in page
    assert f'href="/invoices/{note_number}/pdf"' in page
    assert note_number in client.get("/invoices").get_data(as_text=True)
    note_page = client.get(f"/invoices/{note_number}").get_data(as_text=True)
    assert f'Credit note for invoice <a href="/invoices/{number}">{number}</a>: service not delivered' in note_page

    response = client.get(f"/invoices/{note_number}/pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    assert f"Credit note {note_number} for invoice {number}" in text
    assert "-€12.10" in text and "service not delivered" in text
