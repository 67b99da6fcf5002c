"""Tax invoices and credit notes as UBL 2.1 e-invoices: valid under the UBL schema and the EN 16931
and CIUS-RO 1.0.9 rules (the official Schematron, offline), built from each document's snapshot."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from lxml import etree

from app.clients.models import Client
from app.einvoice.ubl import document_xml
from app.einvoice.validation import validate
from app.extensions import db
from app.invoices.models import Invoice
from app.invoices.services import issue_credit_note
from tests.helpers import login, make_owner, pay
from tests.support.einvoice import EU_COMPANY, RO_COMPANY, RO_PERSON, US_COMPANY, tax_invoice_for
from tests.support.vat import make_two_rate_proforma

NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}


def xml_of(app, number: str, profile: str = "ciusro") -> bytes:
    with app.app_context():
        return document_xml(db.session.scalar(sa.select(Invoice).where(Invoice.number == number)), profile)


def text(xml: bytes, path: str) -> list[str]:
    return [node.text for node in etree.fromstring(xml).iterfind(path, NS)]


def rules(failures) -> list[str]:
    return [f"{f.rule}: {f.text}" for f in failures]


@pytest.mark.parametrize(
    ("details", "category"),
    [(RO_COMPANY, "S"), (RO_PERSON, "S"), (EU_COMPANY, "AE"), (US_COMPANY, "O")],
    ids=["ro-company", "ro-person", "eu-reverse-charge", "non-eu"],
)
def test_each_kind_of_buyer_gives_a_valid_ro_efactura(app, details, category):
    number = tax_invoice_for(app, details)
    xml = xml_of(app, number)

    assert rules(validate(xml, "ciusro")) == []
    assert text(xml, "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:ID") == [category]
    assert text(xml, "cbc:ID") == [number] and text(xml, "cbc:InvoiceTypeCode") == ["380"]
    assert rules(validate(xml_of(app, number, "peppol"), "peppol")) == []


def test_the_addresses_are_written_as_cius_ro_wants_them(app):
    company = xml_of(app, tax_invoice_for(app, RO_COMPANY))
    person = xml_of(app, tax_invoice_for(app, RO_PERSON, email="person@example.com"))

    buyer = "cac:AccountingCustomerParty/cac:Party/"
    assert text(company, buyer + "cac:PostalAddress/cbc:CountrySubentity") == ["RO-CJ"], "the county as ISO 3166-2"
    assert text(company, buyer + "cac:PartyTaxScheme/cbc:CompanyID") == ["RO18547290"]
    assert text(company, buyer + "cac:PartyLegalEntity/cbc:CompanyID") == ["18547290"]
    assert text(person, buyer + "cac:PostalAddress/cbc:CityName") == ["SECTOR3"], "a Bucharest sector"
    assert text(person, buyer + "cac:PostalAddress/cbc:CountrySubentity") == ["RO-B"]
    assert text(person, buyer + "cac:PartyLegalEntity/cbc:CompanyID") == ["0000000000000"], "no CNP"
    seller = "cac:AccountingSupplierParty/cac:Party/"
    assert text(company, seller + "cac:PostalAddress/cbc:CityName") == ["SECTOR1"]
    assert text(company, seller + "cac:PartyTaxScheme/cbc:CompanyID") == ["RO12345678"]


def test_a_eur_invoice_has_its_vat_in_ron_too_and_a_ron_one_does_not(app):
    eur = xml_of(app, tax_invoice_for(app, RO_COMPANY))
    ron = xml_of(app, tax_invoice_for(app, RO_COMPANY, currency="RON", email="ron@example.com"))

    # 49.90 EUR + 21% VAT = 10.48 EUR of VAT; at the snapshotted 4.9775 RON/EUR that is 52.16 RON
    assert text(eur, "cbc:DocumentCurrencyCode") == ["EUR"] and text(eur, "cbc:TaxCurrencyCode") == ["RON"]
    assert text(eur, "cac:TaxTotal/cbc:TaxAmount") == ["10.48", "52.16"]
    assert rules(validate(ron)) == [] and text(ron, "cbc:TaxCurrencyCode") == []
    assert text(ron, "cac:TaxTotal/cbc:TaxAmount") == ["10.48"]


def test_two_vat_rates_give_two_vat_subtotals_and_stay_valid(app):
    owner = make_owner(app, email="two@example.com", kind=RO_COMPANY["kind"], country="RO")
    with app.app_context():
        client = db.session.get(Client, owner.client_id)
        for field, value in RO_COMPANY.items():
            setattr(client, field, value)
        db.session.commit()
    number = pay(app, make_two_rate_proforma(app, owner.client_id))
    xml = xml_of(app, number)

    assert rules(validate(xml)) == []
    subtotals = "cac:TaxTotal/cac:TaxSubtotal/"
    assert text(xml, subtotals + "cac:TaxCategory/cbc:Percent") == ["21", "11"]
    assert text(xml, subtotals + "cbc:TaxableAmount") == ["20.10", "10.05"]
    assert text(xml, subtotals + "cbc:TaxAmount") == ["4.22", "1.11"]
    assert text(xml, "cac:InvoiceLine/cac:Item/cac:ClassifiedTaxCategory/cbc:Percent") == ["21", "11"]


def test_the_paid_invoice_says_how_and_points_to_its_proforma(app):
    number = tax_invoice_for(app, RO_COMPANY)
    xml = xml_of(app, number)

    assert text(xml, "cac:OrderReference/cbc:ID")[0].startswith("PF-")
    assert text(xml, "cac:LegalMonetaryTotal/cbc:PrepaidAmount") == ["60.38"]
    assert text(xml, "cac:LegalMonetaryTotal/cbc:PayableAmount") == ["0.00"]
    assert text(xml, "cac:InvoiceLine/cac:Item/cbc:Name") == ["Web hosting Pro, 1 month"]


def test_a_credit_note_is_a_valid_ubl_credit_note(app):
    number = tax_invoice_for(app, RO_COMPANY)
    with app.app_context():
        invoice = db.session.scalar(sa.select(Invoice).where(Invoice.number == number))
        note = issue_credit_note(invoice, reason="closed early")
        db.session.commit()
        note_number = note.number
    xml = xml_of(app, note_number)

    assert etree.fromstring(xml).tag.endswith("}CreditNote")
    assert rules(validate(xml)) == []
    assert text(xml, "cbc:CreditNoteTypeCode") == ["381"]
    assert text(xml, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID") == [number]
    assert text(xml, "cac:LegalMonetaryTotal/cbc:PayableAmount") == ["60.38"], "positive, as UBL writes a credit"


def test_a_broken_total_is_caught_by_br_co_16(app):
    xml = xml_of(app, tax_invoice_for(app, RO_COMPANY))
    broken = re.sub(rb"(<cbc:PayableAmount[^>]*>)[^<]*", rb"\g<1>1.00", xml)

    assert "BR-CO-16" in [f.rule for f in validate(broken)]
    assert [f.rule for f in validate(b"<Invoice>")] == ["XSD"]


def test_the_document_comes_from_its_snapshot_not_from_todays_client(app):
    number = tax_invoice_for(app, RO_COMPANY)
    before = xml_of(app, number)
    with app.app_context():
        client = db.session.scalar(sa.select(Client).where(Client.company_name == "Popescu Web SRL"))
        client.company_name, client.city = "Renamed SRL", "Iași"
        db.session.commit()

    assert xml_of(app, number) == before


def test_the_client_downloads_the_xml_beside_the_pdf(app, client):
    number = tax_invoice_for(app, RO_COMPANY)
    other = tax_invoice_for(app, RO_PERSON, email="other@example.com")
    login(client, "buyer@example.com")

    page = client.get(f"/invoices/{number}").get_data(as_text=True)
    response = client.get(f"/invoices/{number}/xml")

    assert f'href="/invoices/{number}/xml"' in page and "Download XML (e-Factura)" in page
    assert response.mimetype == "application/xml"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{number}.xml"'
    assert text(response.data, "cbc:ID") == [number] and validate(response.data) == []
    assert client.get(f"/invoices/{other}/xml").status_code == 404, "another client's invoice"
    with app.app_context():
        proforma = db.session.scalar(sa.select(Invoice.number).where(Invoice.number.like("PF-%")))
    assert client.get(f"/invoices/{proforma}/xml").status_code == 404, "a proforma is no e-invoice"


def test_flask_einvoice_ubl_prints_the_demo_invoice_valid(app):
    from app.demo import seed_demo

    with app.app_context():
        seed_demo()
        db.session.commit()
        number = db.session.scalar(sa.select(Invoice.number).where(Invoice.number.like("F-%")))
    result = app.test_cli_runner().invoke(args=["einvoice", "ubl", number])

    assert result.exit_code == 0, result.stderr
    assert validate(result.stdout_bytes) == [] and text(result.stdout_bytes, "cbc:ID") == [number]
    assert result.stderr == ""
    missing = app.test_cli_runner().invoke(args=["einvoice", "ubl", "F-1999-999999"])
    assert missing.exit_code == 1 and "no tax invoice or credit note F-1999-999999" in missing.output
