"""Client notes and client files (staff casework on the profile)

Revision ID: e6c3e5a7b9d1
Revises: e9f6b8d0e2a4

client_notes: internal staff notes on a client, pinned ones first. client_files:
files staff upload to a profile (stored under UPLOAD_FOLDER/client-files with a
random name), admin-only or shown to the client.
"""

import sqlalchemy as sa
from alembic import op

revision = "e6c3e5a7b9d1"
down_revision = "e9f6b8d0e2a4"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "client_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_client_notes_client_id_clients")),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_client_notes_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_notes")),
    )
    op.create_index(op.f("ix_client_notes_client_id"), "client_notes", ["client_id"])
    op.create_table(
        "client_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("stored_name", sa.String(length=64), nullable=False),
        sa.Column("mimetype", sa.String(length=50), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("client_visible", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("size_bytes > 0", name=op.f("ck_client_files_size_positive")),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_client_files_client_id_clients")),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_client_files_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_files")),
        sa.UniqueConstraint("stored_name", name=op.f("uq_client_files_stored_name")),
    )
    op.create_index(op.f("ix_client_files_client_id"), "client_files", ["client_id"])


def downgrade():
    op.drop_index(op.f("ix_client_files_client_id"), table_name="client_files")
    op.drop_table("client_files")
    op.drop_index(op.f("ix_client_notes_client_id"), table_name="client_notes")
    op.drop_table("client_notes")
