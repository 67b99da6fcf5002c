"""`flask seed-bench`: the benchmarks' large data set, consistent with what the app itself writes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.benchdata import DOCUMENTS, EMAILS, LEDGER_ENTRIES, PASSWORD, SERVICES, client_email
from app.extensions import db
from app.invoices.models import DocumentKind
from app.invoices.numbering import take_number
from app.wallet.services import balance_mismatches
from tests.helpers import login


def scalar(app, sql: str, **params):
    with app.app_context():
        return db.session.scalar(sa.text(sql), params)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_seed_bench_refuses_sqlite(app, runner):
    result = runner.invoke(args=["seed-bench", "--clients", "3"])
    assert result.exit_code != 0
    assert "PostgreSQL only" in result.output
    assert scalar(app, "SELECT count(*) FROM clients") == 0


@pytest.mark.postgresql
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_seed_bench_fills_postgresql_with_a_consistent_history(app, runner, client):
    result = runner.invoke(args=["seed-bench", "--clients", "3"])
    assert result.exit_code == 0, result.output
    assert "3 clients seeded" in result.output

    assert scalar(app, "SELECT count(*) FROM clients") == 3
    assert scalar(app, "SELECT count(*) FROM services") == 3 * SERVICES
    assert scalar(app, "SELECT count(*) FROM ledger_entries") == 3 * LEDGER_ENTRIES
    assert scalar(app, "SELECT count(*) FROM email_messages") == 3 * EMAILS
    # Client 3 is the heavy one (the only one of a set smaller than a thousand).
    per_client = scalar(app, "SELECT count(*) FROM invoices WHERE client_id = 1 AND kind = 'proforma'")
    assert per_client == DOCUMENTS // 2
    assert scalar(app, "SELECT count(*) FROM invoices WHERE client_id = 3") > 2000
    # Each paid proforma has its tax invoice, the same amount, pointing back at it.
    assert (
        scalar(
            app,
            "SELECT count(*) FROM invoices p LEFT JOIN invoices t ON t.source_id = p.id AND t.kind = 'tax_invoice' "
            "WHERE p.kind = 'proforma' AND p.status = 'paid' AND (t.id IS NULL OR t.total_minor <> p.total_minor)",
        )
        == 0
    )
    assert (
        scalar(
            app,
            "SELECT count(*) FROM invoices WHERE line_count <> (SELECT count(*) FROM invoice_lines l "
            "WHERE l.invoice_id = invoices.id)",
        )
        == 0
    )

    with app.app_context():
        assert balance_mismatches() == []
        # The next document follows the seeded ones: no number is taken twice.
        number = take_number(DocumentKind.PROFORMA, 2026)
        assert scalar(app, "SELECT count(*) FROM invoices WHERE number = :n", n=number) == 0
        db.session.rollback()

    assert login(client, client_email(2), PASSWORD).status_code == 302
    page = client.get("/invoices").get_data(as_text=True)
    assert "PF-" in page

    again = runner.invoke(args=["seed-bench", "--clients", "3"])
    assert again.exit_code != 0
    assert "empty database" in again.output
    assert scalar(app, "SELECT count(*) FROM clients") == 3
