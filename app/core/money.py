"""Money as integer minor units: strict parsing of user text and Babel formatting."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_currency, get_currency_precision

from app.core.errors import InvalidAmount
from app.core.i18n import _, current_language

# ASCII digits only, an optional single decimal point, no sign, exponent,
# underscore or thousands separator: anything else is refused, not guessed.
_AMOUNT_RE = re.compile(r"(?P<units>[0-9]+)(?:\.(?P<fraction>[0-9]+))?", re.ASCII)


def minor_digits(currency: str) -> int:
    """Number of decimals of an ISO-4217 currency (EUR 2, JPY 0, BHD 3)."""
    return get_currency_precision(currency)


def parse_amount(text: str, currency: str, *, max_minor: int | None = None) -> int:
    """'12.50' -> 1250 for EUR. Raises InvalidAmount for anything that is not a
    plain positive amount with at most the currency's number of decimals."""
    cleaned = (text or "").strip()
    match = _AMOUNT_RE.fullmatch(cleaned)
    if not match:
        raise InvalidAmount(_("Enter an amount like 50 or 50.00."))
    digits = minor_digits(currency)
    fraction = match["fraction"] or ""
    if len(fraction) > digits:
        if digits == 0:
            raise InvalidAmount(f"{currency} amounts have no decimals.")
        raise InvalidAmount(f"{currency} amounts have at most {digits} decimals.")
    if len(match["units"]) > 15:
        raise InvalidAmount(_("That amount is too large."))
    minor = int(match["units"]) * 10**digits + int(fraction.ljust(digits, "0") or 0)
    if minor <= 0:
        raise InvalidAmount(_("The amount must be greater than zero."))
    if max_minor is not None and minor > max_minor:
        raise InvalidAmount(_("The amount can be at most %(amount)s.", amount=format_money(max_minor, currency)))
    return minor


def to_decimal(amount_minor: int, currency: str) -> Decimal:
    """Exact Decimal value of an amount in minor units, for display and PDFs."""
    return Decimal(amount_minor).scaleb(-minor_digits(currency))


def format_money(amount_minor: int, currency: str, locale: str | None = None) -> str:
    """1250, 'EUR' -> '€12.50' in `locale` (default: the language being rendered, so
    '12,50 €' in Romanian)."""
    return format_currency(to_decimal(amount_minor, currency), currency, locale=locale or current_language())


def convert_minor(amount_minor: int, from_currency: str, to_currency: str, rate: Decimal) -> int:
    """`amount_minor` of `from_currency` times `rate`, in minor units of `to_currency`,
    rounded half-up (away from zero on a tie): 1999 EUR cents at 4.9 -> 9795 RON bani."""
    value = to_decimal(amount_minor, from_currency) * rate
    return int(value.scaleb(minor_digits(to_currency)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
