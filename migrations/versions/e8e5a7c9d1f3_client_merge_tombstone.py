"""clients.merged_into_id: a merged client's tombstone points at the client it was merged into

Revision ID: e8e5a7c9d1f3
Revises: e7d4f6b8c0e2

Tax invoices, credit notes and ledger entries are not moved by a merge (they are
immutable: their triggers stay as they are); they stay on the tombstone, which the
target's lifecycle page lists. See app/lifecycle/services.py.
"""

import sqlalchemy as sa
from alembic import op

revision = "e8e5a7c9d1f3"
down_revision = "e7d4f6b8c0e2"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_clients_merged_into_id"), ["merged_into_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_clients_merged_into_id_clients"), "clients", ["merged_into_id"], ["id"]
        )


def downgrade():
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_clients_merged_into_id_clients"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_clients_merged_into_id"))
        batch_op.drop_column("merged_into_id")
