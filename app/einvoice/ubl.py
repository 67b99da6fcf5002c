"""A tax invoice or a credit note as a UBL 2.1 e-invoice: RO e-Factura (CIUS-RO) or Peppol BIS 3.0.

Built only from the document's own snapshot (the buyer_* columns, the seller JSON, its lines
and totals), never from today's client data: the XML of an issued document never changes.
Amounts are written from integer minor units with Decimal, two decimals.
"""

from __future__ import annotations

from decimal import Decimal

from lxml import etree
from lxml.builder import ElementMaker

from app.clients.models import ClientKind
from app.clients.ro_counties import county_code, sector
from app.invoices.models import DocumentKind, Invoice, TaxMode
from app.invoices.tax import line_rate_bp, vat_breakdown
from app.wallet.services import payments_of

NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
_ROOT_NS = {
    "Invoice": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "CreditNote": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
}
CUSTOMIZATION = {
    "ciusro": "urn:cen.eu:en16931:2017#compliant#urn:efactura.mfinante.ro:CIUS-RO:1.0.1",
    "peppol": "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0",
}
PEPPOL_PROFILE = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
#: A private buyer without a personal numeric code (CNP), as CIUS-RO allows it to be reported.
NO_CNP = "0000000000000"
#: UNCL 4461 payment means: a card (48), a credit transfer (30), the prepaid balance (97: clearing between partners).
_MEANS = {"card": ("48", "Card"), "balance": ("97", "Account balance")}

cac = ElementMaker(namespace=NS["cac"], nsmap=NS)
cbc = ElementMaker(namespace=NS["cbc"], nsmap=NS)


def document_xml(invoice: Invoice, profile: str = "ciusro") -> bytes:
    """The UBL XML of a tax invoice (Invoice) or a credit note (CreditNote), UTF-8 with its declaration."""
    if invoice.kind not in (DocumentKind.TAX_INVOICE, DocumentKind.CREDIT_NOTE):
        raise ValueError(f"{invoice.number} is a {invoice.kind}: only tax documents are e-invoices")
    credit = invoice.kind is DocumentKind.CREDIT_NOTE
    root_name = "CreditNote" if credit else "Invoice"
    root = etree.Element(f"{{{_ROOT_NS[root_name]}}}{root_name}", nsmap={None: _ROOT_NS[root_name], **NS})
    sign = -1 if credit else 1  # a credit note stores negative amounts; UBL writes them positive
    cur = invoice.currency

    def amount(tag: str, minor: int):
        return cbc(tag, _decimal(sign * minor), currencyID=cur)

    root.append(cbc.CustomizationID(CUSTOMIZATION[profile]))
    if profile == "peppol":
        root.append(cbc.ProfileID(PEPPOL_PROFILE))
    root.append(cbc.ID(invoice.number))
    root.append(cbc.IssueDate(invoice.issue_date.isoformat()))
    if not credit:
        root.append(cbc.DueDate(invoice.due_date.isoformat()))
    root.append(cbc(f"{root_name}TypeCode", "381" if credit else "380"))
    for note in filter(None, [invoice.tax_note, invoice.credit_reason]):
        root.append(cbc.Note(note[:300]))
    root.append(cbc.DocumentCurrencyCode(cur))
    if profile == "ciusro" and cur != "RON":
        root.append(cbc.TaxCurrencyCode("RON"))
    source = invoice.source
    if source is not None and not credit:
        root.append(cac.OrderReference(cbc.ID(source.number)))  # the proforma the client paid
    if source is not None and credit:
        root.append(
            cac.BillingReference(
                cac.InvoiceDocumentReference(cbc.ID(source.number), cbc.IssueDate(source.issue_date.isoformat()))
            )
        )
    category = _category(invoice)
    root.append(cac.AccountingSupplierParty(_seller(invoice, profile, category)))
    root.append(cac.AccountingCustomerParty(_buyer(invoice, profile, category)))
    if not credit:
        root.extend(_payment_means(invoice))
    tax_total = cac.TaxTotal(amount("TaxAmount", invoice.tax_minor))
    for group in vat_breakdown(invoice):  # one subtotal per VAT rate (BG-23)
        subtotal = cac.TaxSubtotal(amount("TaxableAmount", group.taxable_minor), amount("TaxAmount", group.tax_minor))
        subtotal.append(_tax_category(category, group.rate_bp, invoice, "TaxCategory", reason=True))
        tax_total.append(subtotal)
    root.append(tax_total)
    if profile == "ciusro" and cur != "RON":
        rate = (invoice.seller or {}).get("ron_rate")
        if rate:  # the VAT in RON at the rate snapshotted on the document (BT-111)
            ron = (Decimal(sign * invoice.tax_minor) / 100 * Decimal(str(rate))).quantize(Decimal("0.01"))
            root.append(cac.TaxTotal(cbc.TaxAmount(str(ron), currencyID="RON")))
    prepaid = min(invoice.amount_paid_minor, invoice.total_minor) if not credit else 0
    totals = cac.LegalMonetaryTotal(
        amount("LineExtensionAmount", invoice.subtotal_minor),
        amount("TaxExclusiveAmount", invoice.subtotal_minor),
        amount("TaxInclusiveAmount", invoice.total_minor),
    )
    if prepaid:
        totals.append(cbc.PrepaidAmount(_decimal(prepaid), currencyID=cur))
    totals.append(amount("PayableAmount", invoice.total_minor - prepaid))
    root.append(totals)
    line_tag = "CreditNoteLine" if credit else "InvoiceLine"
    for number, line in enumerate(invoice.lines, start=1):
        root.append(_line(line_tag, number, line, sign, cur, category, invoice, credit))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _decimal(minor: int) -> str:
    return str((Decimal(minor) / 100).quantize(Decimal("0.01")))


def _category(invoice: Invoice) -> str:
    """The VAT category (UNCL 5305) of the document: S standard, AE reverse charge, O outside the scope."""
    if invoice.tax_mode is TaxMode.REVERSE_CHARGE:
        return "AE"
    if invoice.tax_mode is TaxMode.OUTSIDE_SCOPE:
        return "O"
    return "S"


_EXEMPTIONS = {
    "AE": ("VATEX-EU-AE", "Reverse charge"),
    "O": ("VATEX-EU-O", "Not subject to VAT"),
}


def _tax_category(category: str, rate_bp: int, invoice: Invoice, tag: str, *, reason: bool = False):
    element = cac(tag, cbc.ID(category))
    if category != "O":
        element.append(cbc.Percent(str(Decimal(rate_bp if category == "S" else 0) / 100)))
    if reason and category in _EXEMPTIONS:
        code, text = _EXEMPTIONS[category]
        element.extend([cbc.TaxExemptionReasonCode(code), cbc.TaxExemptionReason(invoice.tax_note or text)])
    element.append(cac.TaxScheme(cbc.ID("VAT")))
    return element


def _address(street: str | None, extra: str | None, city: str | None, postcode: str | None, region, country: str):
    """A PostalAddress; for Romania the county as its ISO code and, in Bucharest, the city as its sector."""
    address = cac.PostalAddress()
    if street:
        address.append(cbc.StreetName(street))
    if extra:
        address.append(cbc.AdditionalStreetName(extra))
    county = county_code(region) if country == "RO" else None
    if county == "RO-B":
        city = sector(city) or city
    if city:
        address.append(cbc.CityName(city))
    if postcode:
        address.append(cbc.PostalZone(postcode))
    if county or region:
        address.append(cbc.CountrySubentity(county or region))
    address.append(cac.Country(cbc.IdentificationCode(country)))
    return address


def _vat_and_code(tax_id: str | None, country: str) -> tuple[str | None, str | None]:
    """(VAT identifier with its country prefix, the bare registration code) from a snapshot's tax ID."""
    if not tax_id:
        return None, None
    compact = tax_id.replace(" ", "").upper()
    if compact[:2].isalpha():
        return compact, compact[2:]
    return None, compact  # a Romanian CUI without RO: registered, not a VAT payer


def _seller(invoice: Invoice, profile: str, category: str):
    seller = invoice.seller or {}
    country = seller.get("country", "RO")
    vat, code = _vat_and_code(seller.get("tax_id"), country)
    party = cac.Party()
    if profile == "peppol" and vat:
        party.append(cbc.EndpointID(vat, schemeID=_eas(country)))
    party.append(cac.PartyName(cbc.Name(seller.get("name", ""))))
    party.append(
        _address(seller.get("street"), None, seller.get("city"), seller.get("postcode"), seller.get("county"), country)
    )
    if vat and category != "O":  # BR-O-2: a document outside the scope of VAT names no VAT identifiers
        party.append(cac.PartyTaxScheme(cbc.CompanyID(vat), cac.TaxScheme(cbc.ID("VAT"))))
    entity = cac.PartyLegalEntity(cbc.RegistrationName(seller.get("name", "")))
    if code:
        entity.append(cbc.CompanyID(code))
    if seller.get("registration"):
        entity.append(cbc.CompanyLegalForm(seller["registration"]))
    party.append(entity)
    if seller.get("email"):
        party.append(cac.Contact(cbc.ElectronicMail(seller["email"])))
    return party


def _buyer(invoice: Invoice, profile: str, category: str):
    country = invoice.buyer_country
    organization = invoice.buyer_kind is ClientKind.ORGANIZATION
    name = (invoice.buyer_company if organization and invoice.buyer_company else invoice.buyer_name)[:200]
    vat, code = _vat_and_code(invoice.buyer_tax_id, country)
    party = cac.Party()
    if profile == "peppol":
        if vat:
            party.append(cbc.EndpointID(vat, schemeID=_eas(country)))
        else:
            party.append(cbc.EndpointID(f"client-{invoice.client_id}", schemeID="0203"))
    party.append(cac.PartyName(cbc.Name(name)))
    party.append(
        _address(
            invoice.buyer_address_line1,
            invoice.buyer_address_line2,
            invoice.buyer_city,
            invoice.buyer_postcode,
            invoice.buyer_region,
            country,
        )
    )
    if vat and organization and category != "O":
        party.append(cac.PartyTaxScheme(cbc.CompanyID(vat), cac.TaxScheme(cbc.ID("VAT"))))
    entity = cac.PartyLegalEntity(cbc.RegistrationName(name))
    if organization and code:
        entity.append(cbc.CompanyID(code))
    elif not organization and country == "RO" and profile == "ciusro":
        entity.append(cbc.CompanyID(code if code and code.isdigit() and len(code) == 13 else NO_CNP))
    party.append(entity)
    return party


def _eas(country: str) -> str:
    """The Peppol electronic address scheme of a country's VAT number (EAS code list)."""
    return {
        "BE": "9925",
        "DE": "9930",
        "FR": "9957",
        "IT": "0211",
        "NL": "9944",
        "AT": "9915",
        "ES": "9920",
        "RO": "9947",
        "GB": "9932",
    }.get(country, "9959")  # fmt: skip  (RO: 9947 is listed in EAS for Romanian VAT; 9959 a generic one)


def _payment_means(invoice: Invoice) -> list:
    """How the document was paid (card, balance) and, when something is still to pay, the seller's IBAN."""
    means = []
    for method in dict.fromkeys(part.method for part in payments_of(invoice)):
        code, label = _MEANS.get(method, ("ZZZ", method))
        means.append(cac.PaymentMeans(cbc.PaymentMeansCode(code, name=label), cbc.PaymentID(invoice.number)))
    iban = (invoice.seller or {}).get("iban")
    if iban and (not means or invoice.amount_paid_minor < invoice.total_minor):
        means.append(
            cac.PaymentMeans(
                cbc.PaymentMeansCode("30"), cbc.PaymentID(invoice.number), cac.PayeeFinancialAccount(cbc.ID(iban))
            )
        )
    return means


def _line(tag: str, number: int, line, sign: int, cur: str, category: str, invoice: Invoice, credit: bool):
    quantity_tag = "CreditedQuantity" if credit else "InvoicedQuantity"
    item = cac.Item(cbc.Name(line.description[:100]))
    if len(line.description) > 100:
        item.insert(0, cbc.Description(line.description[:200]))
    rate_bp = line_rate_bp(invoice.tax_rate_bp, invoice.tax_mode, line.tax_rate_bp)
    item.append(_tax_category(category, rate_bp, invoice, "ClassifiedTaxCategory"))
    element = cac(
        tag,
        cbc.ID(str(number)),
        cbc(quantity_tag, str(line.quantity), unitCode="C62"),
        cbc.LineExtensionAmount(_decimal(sign * line.amount_minor), currencyID=cur),
    )
    if line.period_start and line.period_end:
        element.append(
            cac.InvoicePeriod(cbc.StartDate(line.period_start.isoformat()), cbc.EndDate(line.period_end.isoformat()))
        )
    element.append(item)
    element.append(cac.Price(cbc.PriceAmount(_decimal(sign * line.unit_price_minor), currencyID=cur)))
    return element
