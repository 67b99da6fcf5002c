"""Message templates staff write to contact clients

Revision ID: e9f6b8d0e2a4
Revises: d3f5a7b9c1e2
"""

import sqlalchemy as sa
from alembic import op

revision = "e9f6b8d0e2a4"
down_revision = "d3f5a7b9c1e2"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "message_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("channel", sa.Enum("email", "sms", name="messagechannel", native_enum=False, length=20), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["updated_by"], ["staff.id"], name=op.f("fk_message_templates_updated_by_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_templates")),
        sa.UniqueConstraint("name", name=op.f("uq_message_templates_name")),
    )


def downgrade():
    op.drop_table("message_templates")
