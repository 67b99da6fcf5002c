"""VAT: which treatment an invoice gets, and validation of buyers' tax IDs."""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.ro import cui as ro_cui

from app.clients.models import ClientKind
from app.core.i18n import _
from app.invoices.models import TaxMode

EU_COUNTRIES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    ]
)
# VAT numbers use EL for Greece.
_VAT_PREFIX = {"GR": "EL"}


@dataclass(frozen=True)
class TaxTreatment:
    mode: TaxMode
    rate_bp: int
    note: str | None = None


class InvalidTaxId(ValueError):
    pass


def normalize_tax_id(kind: ClientKind, country: str, tax_id: str | None) -> str | None:
    """The buyer's tax ID in canonical form, or None if empty.

    Organizations in the EU give an EU VAT number (checked with python-stdnum);
    a Romanian organization may give its CUI/CIF without the RO prefix. Raises
    InvalidTaxId with a message for the customer.
    """
    raw = (tax_id or "").strip()
    if not raw:
        return None
    if kind is ClientKind.PERSON or country not in EU_COUNTRIES:
        if len(raw) > 40:
            raise InvalidTaxId(_("The tax ID is too long."))
        return raw
    compact = re.sub(r"[\s.\-/]", "", raw).upper()
    prefix = _VAT_PREFIX.get(country, country)
    if country == "RO" and compact.isdigit():
        try:
            return ro_cui.validate(compact)
        except StdnumError:
            raise InvalidTaxId(_("This is not a valid Romanian CUI/CIF.")) from None
    if not compact.startswith(prefix):
        compact = prefix + compact
    try:
        return eu_vat.validate(compact)
    except StdnumError:
        raise InvalidTaxId(
            _(
                "This is not a valid VAT number for %(country)s (e.g. %(example)s).",
                country=country,
                example=prefix + "123456789",
            )
        ) from None


def has_eu_vat_number(country: str, tax_id: str | None) -> bool:
    """Whether `tax_id` is a valid EU VAT number (with prefix) of `country`."""
    if not tax_id or country not in EU_COUNTRIES:
        return False
    prefix = _VAT_PREFIX.get(country, country)
    return tax_id.startswith(prefix) and eu_vat.is_valid(tax_id)


def tax_treatment(
    *,
    buyer_kind: ClientKind,
    buyer_country: str,
    buyer_tax_id: str | None,
    seller_country: str,
    rates: dict,
    vat_verified: bool,
) -> TaxTreatment:
    """The VAT treatment of an electronic service sold to this buyer.

    - same country as the seller: the seller country's standard rate;
    - an EU business with a VAT number of its own country that the EU VIES
      register confirmed (`vat_verified`, see app.invoices.vies): reverse charge;
    - any other EU buyer: the buyer country's rate (OSS);
    - outside the EU: no EU VAT.
    """
    if buyer_country == seller_country:
        return TaxTreatment(TaxMode.STANDARD, rates[seller_country])
    if buyer_country in EU_COUNTRIES:
        if buyer_kind is ClientKind.ORGANIZATION and vat_verified and has_eu_vat_number(buyer_country, buyer_tax_id):
            return TaxTreatment(
                TaxMode.REVERSE_CHARGE,
                0,
                f"Reverse charge: VAT to be accounted for by the recipient (Art. 196, Directive "
                f"2006/112/EC). Buyer VAT number: {buyer_tax_id}.",
            )
        return TaxTreatment(TaxMode.STANDARD, rates[buyer_country])
    return TaxTreatment(TaxMode.OUTSIDE_SCOPE, 0, "Not subject to EU VAT: place of supply outside the EU.")


def tax_amount(subtotal_minor: int, rate_bp: int) -> int:
    """VAT on a subtotal, rounded half away from zero to the minor unit (integers only)."""
    sign = -1 if subtotal_minor < 0 else 1
    return sign * ((abs(subtotal_minor) * rate_bp + 5000) // 10000)


@dataclass(frozen=True)
class VatGroup:
    """One line of a document's VAT breakdown: the taxable amount at a rate and its VAT."""

    rate_bp: int
    taxable_minor: int
    tax_minor: int


def line_rate_bp(document_rate_bp: int, mode: TaxMode, line_rate: int | None) -> int:
    """The VAT rate of a line: its own rate (standard VAT only), else the document's rate.

    Reverse charge and outside-scope documents carry no VAT on any line, whatever rate a
    line was given."""
    if line_rate is None or mode is not TaxMode.STANDARD:
        return document_rate_bp
    return line_rate


def tax_by_rate(amounts: list[tuple[int, int | None]], document_rate_bp: int, mode: TaxMode) -> int:
    """VAT on lines given as (amount_minor, own rate or None), rounded once per rate group.

    With no line rate of its own this is tax_amount(sum, document rate), as before."""
    groups: dict[int, int] = {}
    for amount, rate in amounts:
        key = line_rate_bp(document_rate_bp, mode, rate)
        groups[key] = groups.get(key, 0) + amount
    if not groups:
        return tax_amount(0, document_rate_bp)
    return sum(tax_amount(taxable, rate) for rate, taxable in groups.items())


def vat_breakdown(invoice) -> list[VatGroup]:
    """The document's VAT by rate, highest rate first: one group per rate, tax rounded per group.

    The groups sum to the document's subtotal_minor and tax_minor exactly: a document whose
    stored VAT differs from the per-group rounding (a credit note for the rest of an invoice
    takes the VAT left, to the cent) has the difference on its largest group, so the stored,
    immutable figures always win."""
    taxable: dict[int, int] = {}
    for line in invoice.lines:
        rate = line_rate_bp(invoice.tax_rate_bp, invoice.tax_mode, line.tax_rate_bp)
        taxable[rate] = taxable.get(rate, 0) + line.amount_minor
    if len(taxable) <= 1:
        return [
            VatGroup(
                invoice.tax_rate_bp if not taxable else next(iter(taxable)), invoice.subtotal_minor, invoice.tax_minor
            )
        ]
    groups = [
        VatGroup(rate, amount, tax_amount(amount, rate)) for rate, amount in sorted(taxable.items(), reverse=True)
    ]
    base_gap = invoice.subtotal_minor - sum(g.taxable_minor for g in groups)
    tax_gap = invoice.tax_minor - sum(g.tax_minor for g in groups)
    if base_gap or tax_gap:
        largest = max(range(len(groups)), key=lambda i: abs(groups[i].taxable_minor))
        g = groups[largest]
        groups[largest] = VatGroup(g.rate_bp, g.taxable_minor + base_gap, g.tax_minor + tax_gap)
    return groups


def init_app(app) -> None:
    """`vat_breakdown(invoice)` for the invoice page and PDF."""
    app.jinja_env.globals["vat_breakdown"] = vat_breakdown
