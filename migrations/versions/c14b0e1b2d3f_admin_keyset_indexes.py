"""Indexes behind the staff admin's keyset pages: a client's newest rows, the staff by name

Revision ID: c14b0e1b2d3f
Revises: f1a3c5e7b9d2

Each tab of the staff client profile reads a client's newest rows (`WHERE client_id = :c
ORDER BY id DESC LIMIT n`, then `AND id < :cursor`). With an index on (client_id, id)
PostgreSQL walks it backwards and stops after a page, whatever the client's size; with
one on client_id alone it fetches and sorts every row of the client. The ledger, audit
log, profile changes and sign-ins have theirs already; these are the invoices (Invoices
and Orders tabs), emails (Messages), services and payments (Transactions); and the staff
list's (name, id) order. The single-column client_id indexes they cover are kept (other
code names them; dropping them is a separate step).
"""

from alembic import op

revision = "c14b0e1b2d3f"
down_revision = "f1a3c5e7b9d2"
branch_labels = None
depends_on = None

INDEXES = [
    ("ix_invoices_client_id_id", "invoices", ["client_id", "id"]),
    ("ix_email_messages_client_id_id", "email_messages", ["client_id", "id"]),
    ("ix_services_client_id_id", "services", ["client_id", "id"]),
    ("ix_payments_client_id_id", "payments", ["client_id", "id"]),
    ("ix_staff_name_id", "staff", ["name", "id"]),
]


def upgrade():
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade():
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
