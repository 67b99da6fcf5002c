"""On PostgreSQL, with a realistic spread of rows and fresh statistics, no client page reads a
big table (invoices, invoice_lines, ledger_entries, email_messages, services) by a sequential scan.

The rows are written set-based (INSERT ... SELECT), as bench/pages.py does, for a few hundred
clients, then ANALYZE; the pages' own statements (with their parameters) are EXPLAINed as
the signed-in client's requests sent them. The planner is left to choose: nothing is switched off.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from tests.factories import first_product
from tests.helpers import login, make_owner

BIG_TABLES = ("invoices", "invoice_lines", "ledger_entries", "email_messages", "services")
CLIENTS = 400


def _seed(client_id: int) -> None:
    """CLIENTS clients besides `client_id`, each with services, invoices with a line, ledger
    entries and emails; `client_id` gets many more of each."""
    run = db.session.execute
    product = first_product().id
    run(
        sa.text(
            "INSERT INTO clients (kind, status, currency, language, name, country, balance_minor, created_at) "
            "SELECT 'person', 'active', 'EUR', 'en', 'Client ' || g, 'RO', 0, now() FROM generate_series(1, :n) g"
        ),
        {"n": CLIENTS},
    )
    run(
        sa.text(
            "INSERT INTO users (client_id, role, status, email, name, password_hash, sms_opt_in, security_stamp, "
            "created_at, language, ip_allowlist, login_alerts, reset_nonce, permissions, notification_types) "
            "SELECT id, 'owner', 'active', 'c' || id || '@plans.example', name, 'x', false, md5(random()::text), "
            "now(), 'en', '[]', false, md5(random()::text), '[]', '[]' FROM clients WHERE id <> :me"
        ),
        {"me": client_id},
    )
    # The signed-in client (:me) has eight times the others' rows of each kind.
    run(
        sa.text(
            "INSERT INTO services (client_id, product_id, label, status, cycle, price_minor, currency, "
            "next_due_date, billing_day, created_at) "
            "SELECT c.id, :product, 's' || s || '.c' || c.id || '.example', "
            "CASE WHEN s % 7 = 0 THEN 'suspended' ELSE 'active' END, 'monthly', 499, 'EUR', "
            "current_date + s, 1, now() FROM clients c CROSS JOIN generate_series(1, 10) s"
        ),
        {"product": product},
    )
    run(
        sa.text(
            "INSERT INTO invoices (client_id, kind, number, status, origin, currency, issue_date, due_date, "
            "subtotal_minor, tax_minor, total_minor, amount_paid_minor, tax_mode, tax_rate_bp, buyer_kind, "
            "buyer_name, buyer_country, seller, created_at, line_count) "
            "SELECT c.id, CASE WHEN i % 2 = 0 THEN 'proforma' ELSE 'tax_invoice' END, "
            "'PL-' || c.id || '-' || i, CASE WHEN i % 10 = 0 THEN 'unpaid' ELSE 'paid' END, 'renewal', 'EUR', "
            "current_date - i, current_date - i + 7, 1000, 210, 1210, "
            "CASE WHEN i % 10 = 0 THEN 0 ELSE 1210 END, 'standard', 2100, 'person', c.name, 'RO', '{}', now(), 1 "
            "FROM clients c CROSS JOIN generate_series(1, 8 * :per) i "
            "WHERE i <= CASE WHEN c.id = :me THEN 8 * :per ELSE :per END"
        ),
        {"per": 25, "me": client_id},
    )
    run(
        sa.text(
            "INSERT INTO invoice_lines (invoice_id, position, description, quantity, unit_price_minor, amount_minor) "
            "SELECT id, 1, 'Web Hosting Start - monthly', 1, 1000, 1000 FROM invoices"
        )
    )
    run(
        sa.text(
            "INSERT INTO ledger_entries (client_id, kind, amount_minor, currency, balance_after_minor, description, "
            "idempotency_key, actor, created_at) "
            "SELECT c.id, 'top_up', 500, 'EUR', 500 * e, 'Card top-up', 'plans:' || c.id || ':' || e, 'system', "
            "now() - e * interval '1 hour' FROM clients c CROSS JOIN generate_series(1, 8 * :per) e "
            "WHERE e <= CASE WHEN c.id = :me THEN 8 * :per ELSE :per END"
        ),
        {"per": 20, "me": client_id},
    )
    run(
        sa.text(
            "INSERT INTO email_messages (client_id, user_id, recipients, template, subject, body_text, body_html, "
            "status, attempts, created_at) "
            "SELECT u.client_id, u.id, '[]', 'invoice_issued', 'Invoice ' || e, 'Hello.', '<p>Hello.</p>', 'sent', 1, "
            "now() - e * interval '1 hour' FROM users u JOIN clients c ON c.id = u.client_id "
            "CROSS JOIN generate_series(1, 8 * :per) e WHERE e <= CASE WHEN c.id = :me THEN 8 * :per ELSE :per END"
        ),
        {"per": 20, "me": client_id},
    )
    run(
        sa.text(
            "UPDATE clients SET balance_minor = (SELECT max(balance_after_minor) FROM ledger_entries l "
            "WHERE l.client_id = clients.id)"
        )
    )
    db.session.commit()


PAGES = [
    "/",
    "/invoices",
    "/invoices?status=unpaid",
    "/invoices?status=paid",
    "/wallet",
    "/wallet/statement",
    "/account/notifications",
]


@pytest.mark.postgresql
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_no_client_page_reads_a_big_table_by_a_sequential_scan(app):
    owner = make_owner(app)
    with app.app_context():
        _seed(owner.client_id)
        import os

        for ix in os.environ.get("DROP_IX", "").split():
            db.session.execute(sa.text(f"DROP INDEX {ix}"))
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
        number = db.session.scalar(
            sa.text("SELECT number FROM invoices WHERE client_id = :c AND status = 'unpaid' LIMIT 1"),
            {"c": owner.client_id},
        )
        engine = db.engine
    browser = app.test_client()
    login(browser)
    sent: list[tuple[str, dict]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    paths = [*PAGES, f"/invoices/{number}"]
    for path in PAGES[1:2] + PAGES[4:5]:  # a deep keyset page of each list too
        html = browser.get(path).get_data(as_text=True)
        older = re.search(r'href="(/[a-z/]+\?[^"]*before=[^"]+)"', html)
        assert older, f"{path} has no older page"
        paths.append(older.group(1).replace("&amp;", "&"))
    scans = []
    for path in paths:
        sent.clear()
        sa.event.listen(engine, "before_cursor_execute", record)
        try:
            assert browser.get(path).status_code == 200, path
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)
        with engine.connect() as conn:
            cursor = conn.connection.driver_connection.cursor()
            for statement, parameters in sent:
                if not statement.lstrip().upper().startswith("SELECT"):
                    continue
                cursor.execute("EXPLAIN " + statement, parameters)
                plan = "\n".join(row[0] for row in cursor.fetchall())
                for table in re.findall(r"Seq Scan on (\w+)", plan):
                    if table in BIG_TABLES:
                        scans.append(f"{path}: Seq Scan on {table}\n{statement}\n{plan}")
    assert not scans, "\n\n".join(scans)
