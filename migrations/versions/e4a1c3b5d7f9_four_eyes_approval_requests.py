"""Four-eyes approval requests

Revision ID: e4a1c3b5d7f9
Revises: d3f5a7b9c1e2

A staff balance change above FOUR_EYES_THRESHOLD_MINOR waits here for a second staff member.
"""

import sqlalchemy as sa
from alembic import op

revision = "e4a1c3b5d7f9"
down_revision = "d3f5a7b9c1e2"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "approval_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("amount_minor", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("summary", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column(
            "status",
            sa.Enum("pending", "approved", "rejected", "expired", name="approvalstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("idempotency_key", sa.String(length=120), nullable=True),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_approval_requests_client_id_clients")),
        sa.ForeignKeyConstraint(["decided_by"], ["staff.id"], name=op.f("fk_approval_requests_decided_by_staff")),
        sa.ForeignKeyConstraint(["requested_by"], ["staff.id"], name=op.f("fk_approval_requests_requested_by_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_requests")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_approval_requests_idempotency_key")),
    )
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_approval_requests_client_id"), ["client_id"], unique=False)
        batch_op.create_index("ix_approval_requests_status_id", ["status", "id"], unique=False)


def downgrade():
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_approval_requests_status_id")
        batch_op.drop_index(batch_op.f("ix_approval_requests_client_id"))
    op.drop_table("approval_requests")
