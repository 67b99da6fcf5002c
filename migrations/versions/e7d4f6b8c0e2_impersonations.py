"""Staff support access to a client's area ("login as client")

Revision ID: e7d4f6b8c0e2
Revises: e4a1c3b5d7f9
"""

import sqlalchemy as sa
from alembic import op


revision = "e7d4f6b8c0e2"
down_revision = "e4a1c3b5d7f9"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "impersonations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=40), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_impersonations_client_id_clients")),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_impersonations_staff_id_staff")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_impersonations_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_impersonations")),
    )
    with op.batch_alter_table("impersonations") as batch_op:
        batch_op.create_index(batch_op.f("ix_impersonations_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_impersonations_staff_id"), ["staff_id"], unique=False)


def downgrade():
    op.drop_table("impersonations")
