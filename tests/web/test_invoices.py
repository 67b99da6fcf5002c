"""My invoices: list, view, PDF, billing details; scoping and immutability."""

from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from app.extensions import db
from app.invoices.models import Invoice, TaxMode
from tests.helpers import csrf_token, login, make_proforma, pay


def invoice(app, number: str) -> Invoice:
    with app.app_context():
        row = db.session.scalar(sa.select(Invoice).where(Invoice.number == number))
        db.session.expunge(row)
        return row


def pdf_text(response) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)


def listed(html: str) -> set[str]:
    """The invoice numbers linked in a list."""
    return set(re.findall(r'<a class="strong" href="/invoices/[^"]+">([^<]+)</a>', html))


def test_list_filters_and_paginates_with_htmx_partials(app, client, owner):
    unpaid = {make_proforma(app, owner.client_id, 1000 + i) for i in range(3)}
    paid = make_proforma(app, owner.client_id, 5000)
    tax_number = pay(app, paid)
    login(client)

    everything = client.get("/invoices").get_data(as_text=True)
    # A paid proforma stays listed beside its tax invoice.
    assert listed(everything) == {*unpaid, paid, tax_number}

    only_unpaid = client.get("/invoices?status=unpaid", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert only_unpaid.lstrip().startswith('<div id="invoice-list">') and "<html" not in only_unpaid
    assert listed(only_unpaid) == unpaid
    assert listed(client.get("/invoices?status=paid").get_data(as_text=True)) == {tax_number}
    assert listed(client.get("/invoices?status=cancelled").get_data(as_text=True)) == set()

    app.config["INVOICES_PER_PAGE"] = 2
    first = client.get("/invoices?status=unpaid").get_data(as_text=True)
    older = re.search(r'href="(/invoices\?before=[^"]+)"', first).group(1).replace("&amp;", "&")
    assert "status=unpaid" in older and "after=" not in first  # the filter stays; no newer page
    second = client.get(older).get_data(as_text=True)
    assert len(listed(first)) == 2 and listed(first) | listed(second) == unpaid
    assert "?before=" not in second
    newer = re.search(r'href="(/invoices\?after=[^"]+)"', second).group(1).replace("&amp;", "&")
    assert listed(client.get(newer).get_data(as_text=True)) == listed(first)
    # An old numbered bookmark goes to the first page, filter kept; a forged cursor is a 404.
    bookmark = client.get("/invoices?status=unpaid&page=2")
    assert bookmark.status_code == 302 and bookmark.location == "/invoices?status=unpaid"
    assert client.get("/invoices?status=unpaid&page=1").status_code == 200
    for forged in ("x", "2026-13-01.1", "2026-11-01", "2026-11-01.99999999999", "1.2.3"):
        assert client.get(f"/invoices?before={forged}").status_code == 404


def test_invoice_view_shows_lines_totals_and_bank_reference(app, client, owner):
    number = make_proforma(app, owner.client_id, 1000, description="Web Hosting Pro - example.ro")
    login(client)

    page = client.get(f"/invoices/{number}").get_data(as_text=True)
    assert "Web Hosting Pro - example.ro" in page
    assert "€10.00" in page and "€2.10" in page and "€12.10" in page  # 21% Romanian VAT
    assert f'<dd class="mono">{number}</dd>' in page  # bank transfer reference
    assert "Edit billing details" in page


@pytest.mark.parametrize("suffix", ["", "/pdf", "/billing"])
def test_another_clients_invoice_is_a_404(app, client, owner, other, suffix):
    theirs = make_proforma(app, other.client_id)
    login(client)

    assert client.get(f"/invoices/{theirs}{suffix}").status_code == 404
    if suffix == "/billing":
        token = csrf_token(client, "/")
        response = client.post(f"/invoices/{theirs}/billing", data={"csrf_token": token, "payer": "new"})
        assert response.status_code == 404


def billing_form(client, number: str, **changes) -> dict:
    data = {
        "csrf_token": csrf_token(client, f"/invoices/{number}/billing"),
        "payer": "new",
        "kind": "organization",
        "name": "Hans Müller",
        "company_name": "Müller Webdesign GmbH",
        "tax_id": "DE136695976",
        "address_line1": "Hauptstraße 1",
        "city": "Berlin",
        "postcode": "10115",
        "country": "DE",
    }
    return {**data, **changes}


def test_switch_to_eu_legal_entity_with_valid_vat_applies_reverse_charge(app, client, owner):
    number = make_proforma(app, owner.client_id, 1000)
    assert invoice(app, number).total_minor == 1210
    login(client)

    response = client.post(f"/invoices/{number}/billing", data=billing_form(client, number))

    assert response.status_code == 302 and response.location == f"/invoices/{number}"
    changed = invoice(app, number)
    assert changed.tax_mode is TaxMode.REVERSE_CHARGE
    assert (changed.subtotal_minor, changed.tax_minor, changed.total_minor) == (1000, 0, 1000)
    assert changed.buyer_company == "Müller Webdesign GmbH" and changed.buyer_tax_id == "DE136695976"
    page = client.get(f"/invoices/{number}").get_data(as_text=True)
    assert "Reverse charge" in page and "DE136695976" in page


def test_switch_back_to_a_person_recomputes_vat(app, client, owner):
    number = make_proforma(app, owner.client_id, 1000)
    login(client)
    client.post(f"/invoices/{number}/billing", data=billing_form(client, number))

    client.post(
        f"/invoices/{number}/billing",
        data=billing_form(client, number, kind="person", name="Hans Müller", tax_id="", company_name=""),
    )

    changed = invoice(app, number)
    assert changed.buyer_kind.value == "person" and changed.buyer_company is None
    assert (changed.tax_mode, changed.tax_rate_bp, changed.total_minor) == (TaxMode.STANDARD, 1900, 1190)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"tax_id": "DE136695977"}, "tax_id", "This is not a valid VAT number for DE"),
        ({"country": "RO", "tax_id": "18547291"}, "tax_id", "This is not a valid Romanian CUI/CIF."),
        ({"country": "RO", "tax_id": ""}, "tax_id", "A company registered here must give its tax ID."),
        ({"company_name": ""}, "company_name", "Enter the company name."),
        ({"name": ""}, "name", "Enter the name of the person"),
    ],
)
def test_bad_billing_details_are_refused_beside_the_field(app, client, owner, changes, field, message):
    number = make_proforma(app, owner.client_id, 1000)
    before = invoice(app, number)
    login(client)

    response = client.post(f"/invoices/{number}/billing", data=billing_form(client, number, **changes))

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    shown = re.search(rf'id="{field}-msg">\s*<p class="error">([^<]+)</p>', html)
    assert shown and message in shown.group(1)
    after = invoice(app, number)
    assert (after.buyer_name, after.total_minor, after.buyer_tax_id) == (
        before.buyer_name,
        before.total_minor,
        before.buyer_tax_id,
    )


def test_saved_payer_can_be_chosen(app, client, owner):
    first, second = make_proforma(app, owner.client_id), make_proforma(app, owner.client_id)
    login(client)
    client.post(f"/invoices/{first}/billing", data=billing_form(client, first, save_as_payer="y"))
    payer_id = invoice(app, first).payer_id

    response = client.post(
        f"/invoices/{second}/billing",
        data={"csrf_token": csrf_token(client, "/"), "payer": str(payer_id)},
    )

    assert response.status_code == 302
    chosen = invoice(app, second)
    assert chosen.payer_id == payer_id and chosen.tax_mode is TaxMode.REVERSE_CHARGE


def test_another_clients_saved_payer_cannot_be_chosen(app, client, owner, other):
    theirs = make_proforma(app, other.client_id)
    mine = make_proforma(app, owner.client_id)
    their_payer = invoice(app, theirs).payer_id
    login(client)

    response = client.post(
        f"/invoices/{mine}/billing", data={"csrf_token": csrf_token(client, "/"), "payer": str(their_payer)}
    )

    assert response.status_code == 422
    assert invoice(app, mine).payer_id != their_payer


def test_tax_invoice_has_no_edit_option_and_refuses_a_post(app, client, owner):
    tax_number = pay(app, make_proforma(app, owner.client_id, 1000))
    login(client)

    page = client.get(f"/invoices/{tax_number}").get_data(as_text=True)
    assert "Edit billing details" not in page
    response = client.post(f"/invoices/{tax_number}/billing", data=billing_form(client, tax_number))

    assert response.status_code == 409
    assert "is a tax document and cannot be changed" in response.get_data(as_text=True)
    assert invoice(app, tax_number).buyer_tax_id is None


def test_pdf_is_a_real_pdf_with_number_buyer_and_total(app, client, owner):
    number = make_proforma(app, owner.client_id, 1000)
    login(client)

    response = client.get(f"/invoices/{number}/pdf")

    assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF")
    assert response.headers["Content-Disposition"] == f'attachment; filename="{number}.pdf"'
    text = pdf_text(response)
    assert number in text and "Ion Ionescu" in text and "€12.10" in text
    assert "Romania" in text, "the buyer's country is written out, not as its ISO code"


def test_tax_invoice_pdf_is_rendered_once_and_kept(app, client, owner, monkeypatch):
    tax_number = pay(app, make_proforma(app, owner.client_id, 1000))
    login(client)
    first = client.get(f"/invoices/{tax_number}/pdf").data

    def must_not_render(html, **kwargs):
        raise AssertionError("a stored tax invoice PDF was rendered again")

    monkeypatch.setattr("app.invoices.views.render_pdf", must_not_render)
    second = client.get(f"/invoices/{tax_number}/pdf")
    assert second.status_code == 200 and second.data == first


def test_client_text_is_literal_in_page_and_pdf(app, client, owner):
    number = make_proforma(app, owner.client_id, 1000, description="{{7*7}} <b>bold</b>")
    login(client)
    page = client.get(f"/invoices/{number}").get_data(as_text=True)
    assert "{{7*7}} &lt;b&gt;bold&lt;/b&gt;" in page
    text = pdf_text(client.get(f"/invoices/{number}/pdf"))
    assert "{{7*7}} <b>bold</b>" in text and "49" not in text.split("{{7*7}}")[0][-5:]


def test_urls_in_client_text_are_escaped_in_the_pdf_not_fetched(app, client, owner, http_server):
    url = f"http://127.0.0.1:{http_server.server_port}/x.png"
    number = make_proforma(app, owner.client_id, 1000, description=f'<img src="{url}">')
    login(client)

    response = client.get(f"/invoices/{number}/pdf")

    assert response.status_code == 200
    assert http_server.hits == []
    assert f'<img src="{url}">' in pdf_text(response)
