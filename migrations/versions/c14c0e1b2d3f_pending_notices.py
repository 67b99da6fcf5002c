"""pending_notices: the billing run's notices still to be rendered, outside its transaction

Revision ID: c14c0e1b2d3f
Revises: c14b0e1b2d3f
"""

import sqlalchemy as sa
from alembic import op

revision = "c14c0e1b2d3f"
down_revision = "c14b0e1b2d3f"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "pending_notices",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("pending_notices")
