"""vat_checks: the EU VIES register's answers about buyers' VAT numbers

Revision ID: b1f3a5c7e9d0
Revises: d1a7c3e5f9b2
Create Date: 2026-12-02 14:45:00.000000

"""

import sqlalchemy as sa
from alembic import op

revision = "b1f3a5c7e9d0"
down_revision = "d1a7c3e5f9b2"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "vat_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column(
            "status",
            sa.Enum("valid", "invalid", "unknown", name="vatcheckstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("consultation_number", sa.String(length=60), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vat_checks")),
    )
    op.create_index("ix_vat_checks_number_checked_at", "vat_checks", ["country", "number", "checked_at"])


def downgrade():
    op.drop_index("ix_vat_checks_number_checked_at", table_name="vat_checks")
    op.drop_table("vat_checks")
