"""Refunds and partial credit notes

Revision ID: e5b2d4f6a8c0
Revises: e8e5a7c9d1f3

payments.refund_of_id and payments.reason: an outgoing payment (a refund) names the
incoming one it pays back and why. invoices.credit_reason: why a credit note was
issued. invoice_lines.credited_line_id: the invoice line a credit note line credits
(how much of each line is left to credit). Plain ADD COLUMNs: no table is rebuilt,
so the immutability triggers on invoices and invoice_lines stay in place on SQLite.
"""

import sqlalchemy as sa
from alembic import op

revision = "e5b2d4f6a8c0"
down_revision = "e8e5a7c9d1f3"
branch_labels = None
depends_on = None


def _add_reference(table: str, column: str, target: str) -> None:
    """A nullable foreign-key column. SQLite adds it inline (ALTER TABLE ... REFERENCES),
    without the table rebuild batch mode would do: a rebuild drops the triggers."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER REFERENCES {target} (id)")
        return
    op.add_column(table, sa.Column(column, sa.Integer(), nullable=True))
    op.create_foreign_key(op.f(f"fk_{table}_{column}_{target}"), table, target, [column], ["id"])


def upgrade():
    _add_reference("payments", "refund_of_id", "payments")
    op.add_column("payments", sa.Column("reason", sa.String(length=255), nullable=True))
    op.create_index(op.f("ix_payments_refund_of_id"), "payments", ["refund_of_id"])
    op.add_column("invoices", sa.Column("credit_reason", sa.String(length=255), nullable=True))
    _add_reference("invoice_lines", "credited_line_id", "invoice_lines")


def downgrade():
    # Plain DROP COLUMNs (no batch rebuild on SQLite: it would drop the invoices' triggers).
    op.drop_column("invoice_lines", "credited_line_id")
    op.drop_column("invoices", "credit_reason")
    op.drop_index(op.f("ix_payments_refund_of_id"), table_name="payments")
    op.drop_column("payments", "reason")
    op.drop_column("payments", "refund_of_id")
