"""Message templates staff write to contact clients, and notices on a user's dashboard

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
        sa.Column("channel", sa.Enum("email", "sms", "portal", name="messagechannel", native_enum=False, length=20), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["updated_by"], ["staff.id"], name=op.f("fk_message_templates_updated_by_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_templates")),
        sa.UniqueConstraint("name", name=op.f("uq_message_templates_name")),
    )
    op.create_table(
        "portal_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sent_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_portal_notices_client_id_clients")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_portal_notices_user_id_users")),
        sa.ForeignKeyConstraint(["sent_by"], ["staff.id"], name=op.f("fk_portal_notices_sent_by_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_notices")),
    )
    op.create_index(op.f("ix_portal_notices_client_id"), "portal_notices", ["client_id"])
    op.create_index("ix_portal_notices_user_id_read_at", "portal_notices", ["user_id", "read_at"])


def downgrade():
    op.drop_table("portal_notices")
    op.drop_table("message_templates")
