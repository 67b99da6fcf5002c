"""service_notices: the termination warning and notice, once per service and due date

Revision ID: d1a7c3e5f9b2
Revises: a1c3e5f7b9d2
Create Date: 2026-05-01 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

revision = "d1a7c3e5f9b2"
down_revision = "a1c3e5f7b9d2"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "service_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("stage", sa.String(length=30), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["service_id"], ["services.id"], name=op.f("fk_service_notices_service_id_services")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_notices")),
        sa.UniqueConstraint("service_id", "due_date", "stage", name=op.f("uq_service_notices_service_id")),
    )


def downgrade():
    op.drop_table("service_notices")
