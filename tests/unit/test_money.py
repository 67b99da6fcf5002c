"""Amount parsing is strict; formatting goes through Babel."""

from __future__ import annotations

import pytest

from app.core.errors import InvalidAmount
from app.core.money import format_money, parse_amount


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("50", "EUR", 5000),
        ("12.5", "EUR", 1250),
        ("12.50", "EUR", 1250),
        (" 0.01 ", "EUR", 1),
        ("1500", "JPY", 1500),
        ("1.234", "BHD", 1234),
    ],
)
def test_parse_amount_accepts_plain_amounts(text, currency, minor):
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize(
    "text",
    [
        "",
        "NaN",
        "nan",
        "Infinity",
        "-inf",
        "1E+999999",
        "1e3",
        "-0",
        "-5",
        "0",
        "0.00",
        "0.001",
        "12.345",
        "5_000",
        "5,000",
        "1 000",
        "\u0661\u0662",  # Arabic-Indic digits
        "\uff11\uff12",  # full-width digits
        "+5",
        ".5",
        "5.",
        "0x10",
        "12.3.4",
    ],
)
def test_parse_amount_refuses_everything_else(text):
    with pytest.raises(InvalidAmount):
        parse_amount(text, "EUR")


def test_parse_amount_refuses_decimals_the_currency_does_not_have():
    with pytest.raises(InvalidAmount, match="no decimals"):
        parse_amount("10.5", "JPY")


def test_parse_amount_enforces_a_maximum():
    assert parse_amount("250", "EUR", max_minor=25000) == 25000
    with pytest.raises(InvalidAmount, match="at most"):
        parse_amount("250.01", "EUR", max_minor=25000)


@pytest.mark.parametrize(
    ("minor", "currency", "locale", "text"),
    [
        (1250, "EUR", "en", "€12.50"),
        (1250, "EUR", "de", "12,50\xa0€"),
        (1500, "JPY", "en", "¥1,500"),
        (123456789, "USD", "en", "$1,234,567.89"),
    ],
)
def test_format_money(minor, currency, locale, text):
    assert format_money(minor, currency, locale) == text
