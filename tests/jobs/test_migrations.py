"""The schema comes only from migrations, and they match the models."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from pytest_postgresql.janitor import DatabaseJanitor

from app.extensions import db
from tests.conftest import make_app

EXPECTED_TABLES = set(
    [
        "alembic_version",
        "clients",
        "client_groups",
        "users",
        "pending_notices",
        "staff",
        "staff_roles",
        "staff_role_members",
        "staff_recovery_codes",
        "staff_login_events",
        "impersonations",
        "audit_log",
        "approval_requests",
        "email_messages",
        "message_templates",
        "portal_notices",
        "products",
        "product_prices",
        "service_groups",
        "services",
        "billing_profiles",
        "invoices",
        "invoice_lines",
        "invoice_sequences",
        "service_renewals",
        "service_notices",
        "vat_checks",
        "queued_invoice_items",
        "invoice_pdfs",
        "billing_runs",
        "ledger_entries",
        "payments",
        "saved_cards",
        "bank_transfers",
        "recovery_codes",
        "user_sessions",
        "login_events",
        "profile_changes",
        "erasure_requests",
        "sms_messages",
        "invoice_reminders",
        "client_notes",
        "client_files",
        "einvoices",
    ]
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def empty_database_url(request, tmp_path):
    """A database with no tables at all."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    request.getfixturevalue("pg_available")
    server = request.getfixturevalue("pg_server")
    janitor = DatabaseJanitor(
        user=server.user,
        host=server.host,
        port=server.port,
        password=server.password,
        dbname="billfold_empty",
    )
    with janitor:
        yield f"postgresql+psycopg://{server.user}:{server.password}@{server.host}:{server.port}/billfold_empty"


def test_db_upgrade_from_empty_creates_the_schema_without_drift(empty_database_url):
    app = make_app(empty_database_url)
    runner = app.test_cli_runner()

    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output

    with app.app_context():
        assert set(sa.inspect(db.engine).get_table_names()) == EXPECTED_TABLES

    result = runner.invoke(args=["db", "check"])
    assert result.exit_code == 0, f"models and migrations differ: {result.output}"
    with app.app_context():
        db.engine.dispose()


def test_db_check_notices_a_model_change(empty_database_url):
    """The drift check itself works: a column the migrations lack is reported."""
    app = make_app(empty_database_url)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE staff ADD COLUMN stray_column INTEGER"))

    assert runner.invoke(args=["db", "check"]).exit_code != 0
    with app.app_context():
        db.engine.dispose()


def test_the_ro_county_migration_maps_free_text_regions_and_leaves_documents_alone(empty_database_url):
    """d15a1b2c3d4e: clients' and saved payers' Romanian regions become ISO 3166-2 codes where
    they map (a sector spelled out becomes SECTOR3); other text and other countries stay;
    issued documents keep the buyer region they were written with."""
    from tests.helpers import make_owner, make_proforma, pay

    app = make_app(empty_database_url)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    cluj = make_owner(app, email="cluj@example.com", country="RO")
    bucharest = make_owner(app, email="buc@example.com", country="RO")
    unknown = make_owner(app, email="transilvania@example.com", country="RO")
    german = make_owner(app, email="de@example.com", country="DE")
    regions = {cluj: ("Județul Cluj", "Cluj-Napoca"), bucharest: ("Bucuresti", "Sector 3")}
    regions |= {unknown: ("Transilvania", "Sibiu"), german: ("Cluj", "Berlin")}
    with app.app_context(), db.engine.begin() as conn:
        for account, (region, city) in regions.items():
            conn.execute(
                sa.text("UPDATE clients SET region = :r, city = :c WHERE id = :id"),
                {"r": region, "c": city, "id": account.client_id},
            )
    # Billed to "Județul Cluj": its saved payer (billing_profiles) is made from the client's details.
    number = pay(app, make_proforma(app, cluj.client_id, 1000))
    assert runner.invoke(args=["db", "downgrade", "c14a0e1b2d3f"]).exit_code == 0
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0

    with app.app_context(), db.engine.connect() as conn:
        expected = {
            cluj.client_id: ("RO-CJ", "Cluj-Napoca"),
            bucharest.client_id: ("RO-B", "SECTOR3"),
            unknown.client_id: ("Transilvania", "Sibiu"),
            german.client_id: ("Cluj", "Berlin"),
        }
        clients = conn.execute(sa.text("SELECT id, region, city FROM clients")).all()
        assert {row[0]: (row[1], row[2]) for row in clients} == expected
        # Only the Cluj client was invoiced, so only it has a saved payer.
        payers = conn.execute(sa.text("SELECT client_id, region, city FROM billing_profiles")).all()
        assert {row[0]: (row[1], row[2]) for row in payers} == {cluj.client_id: ("RO-CJ", "Cluj-Napoca")}
        buyer_regions = conn.execute(sa.text("SELECT number, buyer_region FROM invoices")).all()
        assert dict(buyer_regions)[number] == "Județul Cluj"
        db.engine.dispose()
