"""outbox: email_messages.claimed_until, the lease of the job sending it

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
    op.add_column('email_messages', sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.drop_column('claimed_until')
