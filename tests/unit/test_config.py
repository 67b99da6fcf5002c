"""Configuration safety nets."""

from __future__ import annotations

import pytest

from app import create_app
from config import ProductionConfig, config_from_env
from tests.support.config import PRODUCTION


def test_production_refuses_to_start_without_secret_key():
    with pytest.raises(RuntimeError, match="SECRET_KEY is not set"):
        create_app(ProductionConfig, {"SECRET_KEY": None, "SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_production_refuses_the_test_card_gateway():
    with pytest.raises(RuntimeError, match="test gateway"):
        create_app(ProductionConfig, {**PRODUCTION, "ALLOW_TEST_GATEWAY": False})


def test_production_refuses_to_start_without_server_name():
    with pytest.raises(RuntimeError, match="SERVER_NAME is not set"):
        create_app(ProductionConfig, {**PRODUCTION, "PUBLIC_HOST_SET": False})


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../../etc/passwd"])
def test_an_unknown_billing_time_zone_refuses_to_start(zone):
    with pytest.raises(RuntimeError, match="BILLING_TIMEZONE"):
        create_app(ProductionConfig, {**PRODUCTION, "BILLING_TIMEZONE": zone})


@pytest.mark.parametrize("language", ["de", "", "ro-RO"])
def test_a_default_language_without_a_catalog_refuses_to_start(language):
    with pytest.raises(RuntimeError, match=r"DEFAULT_LANGUAGE .* has no catalog: use one of en, ro, es, ru, hi"):
        create_app(ProductionConfig, {**PRODUCTION, "DEFAULT_LANGUAGE": language})


def test_production_sets_secure_cookies():
    app = create_app(ProductionConfig, PRODUCTION)
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    assert app.config["MAIL_BACKEND"] == "smtp"


def test_postgres_urls_use_psycopg3():
    app = create_app(ProductionConfig, {**PRODUCTION, "SQLALCHEMY_DATABASE_URI": "postgres://u:p@h/db"})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@h/db"


def test_unknown_environment_name_is_an_error(monkeypatch):
    monkeypatch.setenv("BILLFOLD_ENV", "prod")
    with pytest.raises(RuntimeError, match="BILLFOLD_ENV must be one of"):
        config_from_env()


SELLER = ProductionConfig.SELLER


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"county": "Cluj"}, r"SELLER_COUNTY 'Cluj' is not a Romanian county code: use ISO 3166-2:RO"),
        ({"county": "RO-XX"}, r"SELLER_COUNTY 'RO-XX' is not a Romanian county code"),
        ({"city": "Bucuresti"}, r"SELLER_CITY 'Bucuresti': a Bucharest seller's city is its sector, SECTOR1 to"),
        ({"iban": "RO49AAAA1B31007593840001"}, r"SELLER_IBAN .* is not a valid IBAN"),
    ],
)
def test_a_seller_address_an_e_invoice_cannot_carry_refuses_to_start(change, message):
    with pytest.raises(RuntimeError, match=message):
        create_app(ProductionConfig, {**PRODUCTION, "SELLER": {**SELLER, **change}})


def test_the_seller_has_a_structured_address_and_other_countries_are_free_text():
    app = create_app(ProductionConfig, PRODUCTION)
    seller = app.config["SELLER"]
    assert (seller["street"], seller["city"], seller["county"], seller["postcode"], seller["country"]) == (
        "Str. Exemplu 1",
        "SECTOR1",
        "RO-B",
        "010101",
        "RO",
    )
    assert seller["phone"] and seller["bank"] and seller["iban"] == "RO49AAAA1B31007593840000"
    # A Cluj seller names its town; a seller outside Romania its region as it likes.
    create_app(ProductionConfig, {**PRODUCTION, "SELLER": {**SELLER, "county": "RO-CJ", "city": "Cluj-Napoca"}})
    create_app(
        ProductionConfig,
        {**PRODUCTION, "SELLER": {**SELLER, "country": "BE", "county": "Brussels", "city": "Bruxelles", "iban": ""}},
    )
