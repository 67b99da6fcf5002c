"""user_sessions: remember_hash, remember_until, remember_stamp (remember-me bound to its session)

Revision ID: a1c3e5f7b9d2
Revises: e2f6a8b0c4d1
Create Date: 2026-12-01 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a1c3e5f7b9d2'
down_revision = 'e2f6a8b0c4d1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('remember_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('remember_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('remember_stamp', sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_column('remember_stamp')
        batch_op.drop_column('remember_until')
        batch_op.drop_column('remember_hash')
