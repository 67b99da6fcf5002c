"""outbox: email_messages.claimed_until (the lease of the job sending it) and pay_invoice_id

Revision ID: e2f6a8b0c4d1
Revises: d9a3b5c7e1f0
Create Date: 2026-11-28 11:15:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e2f6a8b0c4d1'
down_revision = 'd9a3b5c7e1f0'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pay_invoice_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_email_messages_pay_invoice_id_invoices'), 'invoices', ['pay_invoice_id'], ['id']
        )


def downgrade():
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_email_messages_pay_invoice_id_invoices'), type_='foreignkey')
        batch_op.drop_column('pay_invoice_id')
        batch_op.drop_column('claimed_until')
