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
