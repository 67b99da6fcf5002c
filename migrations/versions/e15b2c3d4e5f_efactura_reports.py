"""e-Factura reports (issue 15)

Revision ID: e15b2c3d4e5f
Revises: d15a1b2c3d4e

- einvoices: each tax document's report to ANAF (its XML, state, the rules it broke or ANAF's
  errors, the upload index, the signed ZIP), one per document, written when it is issued with
  EFACTURA_ENABLED on. Nothing existing changes.
"""

import sqlalchemy as sa
from alembic import op

revision = "e15b2c3d4e5f"
down_revision = "d15a1b2c3d4e"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "einvoices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("b2c", sa.Boolean(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "new",
                "invalid",
                "queued",
                "uncertain",
                "processing",
                "accepted",
                "rejected",
                name="einvoicestate",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("xml", sa.LargeBinary(), nullable=True),
        sa.Column("failures", sa.JSON(), nullable=False),
        sa.Column("upload_index", sa.String(length=40), nullable=True),
        sa.Column("download_id", sa.String(length=40), nullable=True),
        sa.Column("signed_zip", sa.LargeBinary(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_einvoices_client_id_clients")),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name=op.f("fk_einvoices_invoice_id_invoices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_einvoices")),
        sa.UniqueConstraint("invoice_id", name=op.f("uq_einvoices_invoice_id")),
    )
    op.create_index("ix_einvoices_client_id", "einvoices", ["client_id"])
    op.create_index("ix_einvoices_state_next_attempt_at", "einvoices", ["state", "next_attempt_at"])
    op.create_index("ix_einvoices_upload_index", "einvoices", ["upload_index"])


def downgrade():
    op.drop_index("ix_einvoices_upload_index", "einvoices")
    op.drop_index("ix_einvoices_state_next_attempt_at", "einvoices")
    op.drop_index("ix_einvoices_client_id", "einvoices")
    op.drop_table("einvoices")
