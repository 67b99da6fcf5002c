"""services.billing_day: renewals keep their day of the month

Revision ID: b7e2f4a91c03
Revises: a3c1d9e07b42
Create Date: 2026-11-28 10:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7e2f4a91c03'
down_revision = 'a3c1d9e07b42'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('services', sa.Column('billing_day', sa.SmallInteger(), nullable=True))
    # Existing services renew on the day of their next due date (a day already
    # clamped by a short month cannot be told apart: staff can correct it).
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE services SET billing_day = EXTRACT(DAY FROM next_due_date) WHERE next_due_date IS NOT NULL")
    else:
        op.execute(
            "UPDATE services SET billing_day = CAST(strftime('%d', next_due_date) AS INTEGER) "
            "WHERE next_due_date IS NOT NULL"
        )


def downgrade():
    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.drop_column('billing_day')
