"""Indexes behind the client area's keyset pages (issue 14)

Revision ID: c14a0e1b2d3f
Revises: c14c0e1b2d3f

Each client list is read newest first by its key, for one client: the index on
(client_id, key...) gives a page straight from the index, LIMIT rows, however deep and
however many rows the client has, instead of reading all of the client's rows and sorting.

- invoices (client_id, issue_date, id): the invoice list and its keyset cursor.
- ledger_entries (client_id, created_at): the statement's period and opening balance
  (the wallet's ledger is keyed by id: ix_ledger_entries_client_id_id already serves it).
- email_messages and sms_messages (client_id, created_at, id): the notifications archive;
  each replaces the plain client_id index, which is its prefix (one index less to write
  for every message the outbox stores).
- services (client_id, status): the dashboard's counts of a client's services by status (the
  (status, next_due_date) index would read every suspended service of the host); it replaces
  the plain client_id index, its prefix.
"""

from alembic import op

revision = "c14a0e1b2d3f"
down_revision = "c14c0e1b2d3f"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_invoices_client_id_issue_date_id", "invoices", ["client_id", "issue_date", "id"])
    op.create_index("ix_ledger_entries_client_id_created_at", "ledger_entries", ["client_id", "created_at"])
    op.create_index("ix_email_messages_client_id_created_at_id", "email_messages", ["client_id", "created_at", "id"])
    op.drop_index("ix_email_messages_client_id", table_name="email_messages")
    op.create_index("ix_sms_messages_client_id_created_at_id", "sms_messages", ["client_id", "created_at", "id"])
    op.drop_index("ix_sms_messages_client_id", table_name="sms_messages")
    op.create_index("ix_services_client_id_status", "services", ["client_id", "status"])
    op.drop_index("ix_services_client_id", table_name="services")


def downgrade():
    op.create_index("ix_services_client_id", "services", ["client_id"])
    op.drop_index("ix_services_client_id_status", table_name="services")
    op.create_index("ix_sms_messages_client_id", "sms_messages", ["client_id"])
    op.drop_index("ix_sms_messages_client_id_created_at_id", table_name="sms_messages")
    op.create_index("ix_email_messages_client_id", "email_messages", ["client_id"])
    op.drop_index("ix_email_messages_client_id_created_at_id", table_name="email_messages")
    op.drop_index("ix_ledger_entries_client_id_created_at", table_name="ledger_entries")
    op.drop_index("ix_invoices_client_id_issue_date_id", table_name="invoices")
