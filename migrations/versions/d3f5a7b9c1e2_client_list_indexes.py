"""Indexes behind the staff client list's search and sort

Revision ID: d3f5a7b9c1e2
Revises: c2e4a6b8d0f1

Plain column indexes, declared on the models, behind every sort and filter. On
PostgreSQL, also the search's prefix indexes (ix_search_*): lower(name), lower(company),
lower(tax_id) and the users' email and phone, with text_pattern_ops so `LIKE 'abc%'`
uses them. The models cannot declare those portably (SQLite neither reflects expression
indexes nor has text_pattern_ops), so migrations/env.py leaves ix_search_* out of the
models == migrations check. On SQLite (the embedded, small-site default) the search scans.
"""

import sqlalchemy as sa
from alembic import op

revision = "d3f5a7b9c1e2"
down_revision = "c2e4a6b8d0f1"
branch_labels = None
depends_on = None

SEARCH_INDEXES = [
    ("ix_search_clients_name", "clients", "lower(name)"),
    ("ix_search_clients_company", "clients", "lower(company_name)"),
    ("ix_search_clients_tax_id", "clients", "lower(tax_id)"),
    ("ix_search_users_email", "users", "email"),  # stored lower-cased
    ("ix_search_users_phone", "users", "phone"),
]


def upgrade():
    op.create_index("ix_clients_name_id", "clients", ["name", "id"])
    op.create_index("ix_clients_status", "clients", ["status"])
    op.create_index("ix_users_phone", "users", ["phone"])
    op.create_index("ix_clients_balance_minor_id", "clients", ["balance_minor", "id"])
    op.create_index("ix_clients_group_id", "clients", ["group_id"])
    if op.get_bind().dialect.name == "postgresql":
        for name, table, expression in SEARCH_INDEXES:
            op.execute(f"CREATE INDEX {name} ON {table} ({expression} text_pattern_ops)")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name, _, _ in SEARCH_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
    op.drop_index("ix_clients_group_id", table_name="clients")
    op.drop_index("ix_clients_balance_minor_id", table_name="clients")
    op.drop_index("ix_users_phone", table_name="users")
    op.drop_index("ix_clients_status", table_name="clients")
    op.drop_index("ix_clients_name_id", table_name="clients")
