"""VAT treatment and tax ID validation."""

from __future__ import annotations

import pytest

from app.clients.models import ClientKind
from app.invoices.models import TaxMode
from app.invoices.tax import InvalidTaxId, normalize_tax_id, tax_amount, tax_treatment
from config import Config

RATES = Config.VAT_RATES


def treat(kind, country, tax_id=None, *, vat_verified=True):
    return tax_treatment(
        buyer_kind=kind,
        buyer_country=country,
        buyer_tax_id=tax_id,
        seller_country="RO",
        rates=RATES,
        vat_verified=vat_verified,
    )


@pytest.mark.parametrize(
    ("kind", "country", "tax_id", "mode", "rate"),
    [
        (ClientKind.PERSON, "RO", None, TaxMode.STANDARD, 2100),
        (ClientKind.ORGANIZATION, "RO", "RO18547290", TaxMode.STANDARD, 2100),  # domestic B2B: Romanian VAT
        (ClientKind.ORGANIZATION, "DE", "DE136695976", TaxMode.REVERSE_CHARGE, 0),
        (ClientKind.ORGANIZATION, "DE", None, TaxMode.STANDARD, 1900),  # no VAT number: OSS
        (ClientKind.PERSON, "FR", None, TaxMode.STANDARD, 2000),
        (ClientKind.ORGANIZATION, "US", "12-3456789", TaxMode.OUTSIDE_SCOPE, 0),
        (ClientKind.PERSON, "CH", None, TaxMode.OUTSIDE_SCOPE, 0),
    ],
)
def test_tax_treatment(kind, country, tax_id, mode, rate):
    treatment = treat(kind, country, tax_id)
    assert (treatment.mode, treatment.rate_bp) == (mode, rate)


def test_reverse_charge_is_noted_with_the_buyer_vat_number():
    note = treat(ClientKind.ORGANIZATION, "DE", "DE136695976").note
    assert "Reverse charge" in note and "DE136695976" in note


@pytest.mark.parametrize(
    ("country", "raw", "canonical"),
    [
        ("RO", "18547290", "18547290"),
        ("RO", "RO 18547290", "RO18547290"),
        ("RO", "ro18547290", "RO18547290"),
        ("DE", "136695976", "DE136695976"),
        ("DE", "DE 136 695 976", "DE136695976"),
        ("GR", "094259216", "EL094259216"),
    ],
)
def test_valid_tax_ids_are_normalized(country, raw, canonical):
    assert normalize_tax_id(ClientKind.ORGANIZATION, country, raw) == canonical


@pytest.mark.parametrize(
    ("country", "raw"), [("RO", "18547291"), ("RO", "RO18547291"), ("DE", "DE136695977"), ("FR", "FR1234")]
)
def test_invalid_tax_ids_are_refused(country, raw):
    with pytest.raises(InvalidTaxId):
        normalize_tax_id(ClientKind.ORGANIZATION, country, raw)


def test_tax_amount_rounds_half_up_in_integers():
    assert tax_amount(1000, 2100) == 210
    assert tax_amount(499, 2100) == 105  # 104.79
    assert tax_amount(50, 1900) == 10  # 9.5 -> 10
    assert tax_amount(-50, 1900) == -10
