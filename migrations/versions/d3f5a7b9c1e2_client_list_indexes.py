"""Indexes behind the staff client list's search and sort

Revision ID: d3f5a7b9c1e2
Revises: c2e4a6b8d0f1

Plain column indexes only: expression indexes (lower(name)) are not reflected on SQLite,
which breaks the models == migrations check. The case-insensitive prefix search on
lower(name)/lower(email) is therefore not index-backed yet (see the report).
"""

import sqlalchemy as sa
from alembic import op

revision = "d3f5a7b9c1e2"
down_revision = "c2e4a6b8d0f1"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_clients_name_id", "clients", ["name", "id"])
    op.create_index("ix_clients_status", "clients", ["status"])
    op.create_index("ix_users_phone", "users", ["phone"])


def downgrade():
    op.drop_index("ix_users_phone", table_name="users")
    op.drop_index("ix_clients_status", table_name="clients")
    op.drop_index("ix_clients_name_id", table_name="clients")
