"""Two VAT rates on one document: tax rounded once per rate, the breakdown summing to the
document's totals, copied to the tax invoice and credited line by line."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.core.errors import ValidationError
from app.extensions import db
from app.invoices.models import DocumentKind, Invoice, TaxMode
from app.invoices.services import LineCredit, issue_credit_note
from app.invoices.tax import VatGroup, tax_by_rate, vat_breakdown
from tests.helpers import make_proforma, pay
from tests.support.vat import REDUCED_BP, make_two_rate_proforma


def by_number(number: str) -> Invoice:
    return db.session.scalar(sa.select(Invoice).where(Invoice.number == number))


def test_tax_is_rounded_per_rate_group():
    # 20.10 at 21% = 4.221 -> 4.22; 10.05 at 11% = 1.1055 -> 1.11 (one rounding per group).
    lines = [(2010, None), (1005, 1100)]
    assert tax_by_rate(lines, 2100, TaxMode.STANDARD) == 422 + 111
    # Same rate on every line: what one rounding of the subtotal gives (0.3 cent each would vanish).
    assert tax_by_rate([(1, None)] * 3, 2100, TaxMode.STANDARD) == 1
    # Reverse charge: no line carries VAT, whatever its own rate.
    assert tax_by_rate(lines, 0, TaxMode.REVERSE_CHARGE) == 0


def test_two_rate_proforma_breakdown_sums_to_the_totals(app, owner):
    number = make_two_rate_proforma(app, owner.client_id)
    with app.app_context():
        proforma = by_number(number)
        assert [line.tax_rate_bp for line in proforma.lines] == [None, REDUCED_BP]
        assert (proforma.subtotal_minor, proforma.tax_minor, proforma.total_minor) == (3015, 533, 3548)
        groups = vat_breakdown(proforma)
        assert groups == [VatGroup(2100, 2010, 422), VatGroup(1100, 1005, 111)]
        assert sum(g.taxable_minor for g in groups) == proforma.subtotal_minor
        assert sum(g.tax_minor for g in groups) == proforma.tax_minor


def test_one_rate_documents_have_one_group_of_their_stored_figures(app, owner):
    number = pay(app, make_proforma(app, owner.client_id, 1000))
    with app.app_context():
        invoice = by_number(number)
        assert vat_breakdown(invoice) == [VatGroup(2100, 1000, 210)]


def test_the_tax_invoice_copies_each_lines_rate_and_shows_the_breakdown(app, owner, client):
    from tests.helpers import login

    number = pay(app, make_two_rate_proforma(app, owner.client_id))
    with app.app_context():
        invoice = by_number(number)
        assert invoice.kind is DocumentKind.TAX_INVOICE
        assert [line.tax_rate_bp for line in invoice.lines] == [None, REDUCED_BP]
        assert (invoice.subtotal_minor, invoice.tax_minor) == (3015, 533)
        assert vat_breakdown(invoice) == [VatGroup(2100, 2010, 422), VatGroup(1100, 1005, 111)]
    login(client, owner.email, owner.password)
    page = client.get(f"/invoices/{number}").get_data(as_text=True)
    assert "VAT 21% on €20.10" in page and "VAT 11% on €10.05" in page
    assert "€4.22" in page and "€1.11" in page


def test_a_credit_note_of_a_two_rate_invoice_credits_each_rate(app, owner):
    number = pay(app, make_two_rate_proforma(app, owner.client_id))
    with app.app_context():
        invoice = by_number(number)
        _hosting, ebook = invoice.lines
        first = issue_credit_note(invoice, reason="e-book refunded", lines=[LineCredit(ebook.id)])
        db.session.commit()
        assert [(line.amount_minor, line.tax_rate_bp) for line in first.lines] == [(-1005, REDUCED_BP)]
        assert (first.subtotal_minor, first.tax_minor) == (-1005, -111)
        assert vat_breakdown(first) == [VatGroup(1100, -1005, -111)]

        with pytest.raises(ValidationError, match="more than one VAT rate") as refused:
            issue_credit_note(by_number(number), reason="goodwill", amount_minor=100)
        assert refused.value.field == "amount"
        db.session.rollback()

        rest = issue_credit_note(by_number(number), reason="closed")
        db.session.commit()
        assert (rest.subtotal_minor, rest.tax_minor) == (-2010, -422)
        assert rest.tax_minor + first.tax_minor == -invoice.tax_minor


def test_whole_credit_note_of_a_two_rate_invoice_has_both_groups(app, owner):
    number = pay(app, make_two_rate_proforma(app, owner.client_id))
    with app.app_context():
        note = issue_credit_note(by_number(number), reason="cancelled")
        db.session.commit()
        assert vat_breakdown(note) == [VatGroup(2100, -2010, -422), VatGroup(1100, -1005, -111)]
        assert (note.subtotal_minor, note.tax_minor, note.total_minor) == (-3015, -533, -3548)


def test_the_pdf_shows_the_vat_breakdown(app, owner, client):
    import io

    from pypdf import PdfReader

    from tests.helpers import login

    number = pay(app, make_two_rate_proforma(app, owner.client_id))
    login(client, owner.email, owner.password)
    response = client.get(f"/invoices/{number}/pdf")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    assert "VAT 21% on €20.10" in text and "VAT 11% on €10.05" in text
    assert "Hosting guide (e-book) (VAT 11%)" in text
