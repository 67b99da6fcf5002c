"""`flask seed-bench`: a large host's data in an empty PostgreSQL database, in minutes.

Set-based: each table is one INSERT ... SELECT over generate_series, so ten
thousand clients cost a handful of statements, not millions. The shape, per
`clients` (10,000 gives the benchmark's set):

- one owner per client (all with one password), a trusted user for one in ten;
- 10 services each (100k), renewing on spread-out days;
- 50 documents each (500k): proformas, one in five unpaid, and the tax
  invoice of each paid one; one line each, two for one in three; numbered
  as the app numbers them (PF-2026-000001), with the series rows set so the
  next document follows on;
- 100 wallet entries each (1M), a consistent ledger: `flask wallet verify`
  passes;
- 100 outbox emails each (1M), sent;
- one client in a thousand (at least one) with 3,000 documents more: the
  deep pages of a long invoice list.

A benchmark staff member signs in to the admin. Refuses a non-empty database:
it is never run on a real host's data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from app.core.passwords import hash_password
from app.demo import seed_catalog
from app.extensions import db
from app.staff.services import create_staff

PASSWORD = "bench-password-1"  # noqa: S105 (the accounts of a throwaway benchmark database)
STAFF_EMAIL = "staff@bench.example"
SERVICES = 10
DOCUMENTS = 50
LEDGER_ENTRIES = 100
EMAILS = 100
HEAVY_EVERY = 1000  # one client in HEAVY_EVERY has HEAVY_DOCUMENTS more documents
HEAVY_DOCUMENTS = 3000


@dataclass
class BenchSet:
    clients: int

    @property
    def heavy_clients(self) -> list[int]:
        """The ids of the clients with thousands of documents (ids start at 1 in an empty database)."""
        return list(range(HEAVY_EVERY, self.clients + 1, HEAVY_EVERY)) or [self.clients]


def client_email(client_id: int) -> str:
    return f"client{client_id}@bench.example"


def seed_bench(clients: int, log=print) -> BenchSet:
    """Fill the (empty, PostgreSQL) database with `clients` clients and their history."""
    if db.engine.dialect.name != "postgresql":
        raise RuntimeError("seed-bench fills PostgreSQL only (set DATABASE_URL to a PostgreSQL database)")
    if db.session.scalar(sa.text("SELECT count(*) FROM clients")):
        raise RuntimeError("seed-bench fills an empty database; this one has clients already")
    bench = BenchSet(clients)
    seed_catalog()
    create_staff(STAFF_EMAIL, "Bench Staff", PASSWORD, superuser=True)
    db.session.commit()
    params = {
        "n": clients,
        "hash": hash_password(PASSWORD),
        "seller": json.dumps(dict(current_app.config["SELLER"])),
        "product": db.session.scalar(sa.text("SELECT min(id) FROM products")),
        "services": SERVICES,
        "documents": DOCUMENTS,
        "entries": LEDGER_ENTRIES,
        "emails": EMAILS,
        "heavy": bench.heavy_clients,
        "heavy_documents": HEAVY_DOCUMENTS,
    }
    for label, statement in _STATEMENTS:
        db.session.execute(sa.text(statement), params)
        log(f"seed-bench: {label}")
    db.session.commit()
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()
    return bench


# A document's rows, before numbering: (client, ordinal i) for i in 1..DOCUMENTS, plus
# the heavy clients' extra ones. Odd i is a proforma; even i the tax invoice of the proforma i-1
# when that one is paid (one proforma in five stays unpaid: i % 10 == 1).
_PROFORMAS = """
    SELECT c.id AS client_id, c.name, c.country, c.currency, g.i,
           current_date - (g.last - g.i) * CASE WHEN g.last > :documents THEN 1 ELSE 14 END AS issue_date,
           CASE WHEN g.i % 3 = 0 THEN 2 ELSE 1 END AS lines
    FROM clients c
    CROSS JOIN LATERAL (
        SELECT i, last FROM (SELECT CASE WHEN c.id = ANY(:heavy) THEN (:documents + :heavy_documents) / 2
                                         ELSE :documents / 2 END AS last) l,
                            generate_series(1, l.last) i
    ) g
"""

_STATEMENTS = [
    (
        "clients",
        "INSERT INTO clients (kind, status, currency, language, name, company_name, tax_id, address_line1, city, "
        "postcode, country, balance_minor, created_at, timezone) "
        "SELECT CASE WHEN g % 3 = 0 THEN 'organization' ELSE 'person' END, 'active', 'EUR', "
        "(ARRAY['en','ro','es','ru','hi'])[1 + g % 5], 'Client ' || g, "
        "CASE WHEN g % 3 = 0 THEN 'Company ' || g || ' SRL' END, CASE WHEN g % 3 = 0 THEN 'RO' || (10000000 + g) END, "
        "'Strada ' || g, (ARRAY['Cluj-Napoca','București','Iași','Berlin','Madrid'])[1 + g % 5], '400' || (g % 1000), "
        "(ARRAY['RO','RO','RO','DE','ES'])[1 + g % 5], 0, now() - interval '3 years', 'Europe/Bucharest' "
        "FROM generate_series(1, :n) g",
    ),
    (
        "owners and trusted users",
        "INSERT INTO users (client_id, role, status, email, name, phone, password_hash, sms_opt_in, security_stamp, "
        "created_at, ip_allowlist, login_alerts, reset_nonce, permissions, notification_types) "
        "SELECT id, 'owner', 'active', 'client' || id || '@bench.example', name, '+4072' || lpad(id::text, 7, '0'), "
        ":hash, id % 4 = 0, md5(random()::text), created_at, '[]'::json, false, md5(random()::text), "
        "'[]'::json, '[]'::json "
        "FROM clients "
        "UNION ALL "
        "SELECT id, 'trusted', 'active', 'trusted' || id || '@bench.example', 'Trusted of ' || name, NULL, :hash, "
        "false, md5(random()::text), created_at, '[]'::json, false, md5(random()::text), "
        "'[\"invoices.view\"]'::json, '[]'::json "
        "FROM clients WHERE id % 10 = 0",
    ),
    (
        "services",
        "INSERT INTO services (client_id, product_id, label, status, cycle, price_minor, currency, next_due_date, "
        "billing_day, created_at, activated_at) "
        "SELECT c.id, :product, 's' || s || '.client' || c.id || '.example', 'active', 'monthly', 499, 'EUR', "
        "current_date + ((c.id + s * 3) % 28) + 1, EXTRACT(DAY FROM current_date + ((c.id + s * 3) % 28) + 1), "
        "c.created_at, c.created_at FROM clients c CROSS JOIN generate_series(1, :services) s",
    ),
    (
        # Per client DOCUMENTS / 2 proformas, two weeks apart (a day apart for the heavy clients),
        # the latest one in five unpaid.
        "proformas",
        "INSERT INTO invoices (client_id, kind, number, status, origin, currency, issue_date, due_date, "  # noqa: S608 (fixed fragments of this module)
        "subtotal_minor, tax_minor, total_minor, amount_paid_minor, tax_mode, tax_rate_bp, buyer_kind, buyer_name, "
        "buyer_country, seller, created_at, paid_at, line_count) "
        "SELECT client_id, 'proforma', 'PF-' || EXTRACT(YEAR FROM issue_date) || '-' || "
        "lpad((row_number() OVER (PARTITION BY EXTRACT(YEAR FROM issue_date) "
        "ORDER BY issue_date, client_id, i))::text, 6, '0'), "
        "CASE WHEN i % 5 = 0 THEN 'unpaid' ELSE 'paid' END, 'renewal', currency, issue_date, issue_date + 14, "
        "lines * 1000, lines * 210, lines * 1210, CASE WHEN i % 5 = 0 THEN 0 ELSE lines * 1210 END, 'standard', "
        "2100, 'person', name, country, CAST(:seller AS json), issue_date, "
        "CASE WHEN i % 5 = 0 THEN NULL ELSE issue_date + 1 END, lines "
        f"FROM ({_PROFORMAS}) p",
    ),
    (
        # The tax invoice of each paid proforma, the day after it.
        "tax invoices",
        "INSERT INTO invoices (client_id, kind, number, status, origin, currency, issue_date, due_date, "
        "subtotal_minor, tax_minor, total_minor, amount_paid_minor, tax_mode, tax_rate_bp, buyer_kind, buyer_name, "
        "buyer_country, seller, created_at, paid_at, line_count, source_id) "
        "SELECT client_id, 'tax_invoice', 'F-' || EXTRACT(YEAR FROM paid_at) || '-' || "
        "lpad((row_number() OVER (PARTITION BY EXTRACT(YEAR FROM paid_at) ORDER BY paid_at, id))::text, 6, '0'), "
        "'paid', origin, currency, paid_at::date, paid_at::date, subtotal_minor, tax_minor, total_minor, "
        "total_minor, tax_mode, "
        "tax_rate_bp, buyer_kind, buyer_name, buyer_country, seller, paid_at, paid_at, line_count, id "
        "FROM invoices WHERE kind = 'proforma' AND status = 'paid'",
    ),
    (
        "invoice lines",
        "INSERT INTO invoice_lines (invoice_id, position, description, quantity, unit_price_minor, amount_minor, "
        "period_start, period_end) "
        "SELECT i.id, p, CASE p WHEN 1 THEN 'Web Hosting Start - monthly' ELSE 'Domain renewal .ro' END, 1, 1000, "
        "1000, i.issue_date, i.issue_date + 30 FROM invoices i CROSS JOIN LATERAL generate_series(1, i.line_count) p",
    ),
    (
        "document series",
        "INSERT INTO invoice_sequences (series, year, last_number) "
        "SELECT split_part(number, '-', 1), split_part(number, '-', 2)::int, max(split_part(number, '-', 3)::int) "
        "FROM invoices GROUP BY 1, 2",
    ),
    (
        "wallet ledger",
        # Top-ups of 50.00 and payments of 12.10, alternating: the balance never goes negative.
        "INSERT INTO ledger_entries (client_id, kind, amount_minor, currency, balance_after_minor, description, "
        "idempotency_key, actor, created_at) "
        "SELECT c.id, CASE WHEN e % 2 = 1 THEN 'top_up' ELSE 'invoice_payment' END, "
        "CASE WHEN e % 2 = 1 THEN 5000 ELSE -1210 END, 'EUR', "
        "((e + 1) / 2) * 5000 - (e / 2) * 1210, "
        "CASE WHEN e % 2 = 1 THEN 'Card payment Visa •••• 4242' ELSE 'Payment of an invoice' END, "
        "'bench:' || c.id || ':' || e, 'user:' || c.id, now() - (:entries - e) * interval '1 day' "
        "FROM clients c CROSS JOIN generate_series(1, :entries) e",
    ),
    (
        "balances",
        "UPDATE clients SET balance_minor = ((:entries + 1) / 2) * 5000 - (:entries / 2) * 1210",
    ),
    (
        "outbox emails",
        "INSERT INTO email_messages (client_id, user_id, recipients, template, subject, body_text, body_html, "
        "status, attempts, created_at, last_attempt_at, sent_at) "
        "SELECT u.client_id, u.id, json_build_array(u.email), 'invoice_issued', 'Proforma PF-2026-' || m || ' issued', "
        "'Hello ' || u.name || E',\\n\\nA new proforma is ready in your client area. Amount due: 12.10 EUR.\\n', "
        "'<p>Hello ' || u.name || ',</p><p>A new proforma is ready in your client area. Amount due: 12.10 EUR.</p>', "
        "'sent', 1, now() - m * interval '7 hours', now() - m * interval '7 hours', now() - m * interval '7 hours' "
        "FROM users u CROSS JOIN generate_series(1, :emails) m WHERE u.role = 'owner'",
    ),
]
