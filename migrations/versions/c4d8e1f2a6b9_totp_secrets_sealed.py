"""users.totp_secret is stored sealed (AES-GCM keyed from SECRET_KEY)

Revision ID: c4d8e1f2a6b9
Revises: b7e2f4a91c03
Create Date: 2026-11-28 10:25:00

"""
from alembic import op
import sqlalchemy as sa
from flask import current_app


# revision identifiers, used by Alembic.
revision = 'c4d8e1f2a6b9'
down_revision = 'b7e2f4a91c03'
branch_labels = None
depends_on = None

_USERS = sa.table('users', sa.column('id', sa.Integer), sa.column('totp_secret', sa.String))


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('totp_secret', existing_type=sa.String(length=64), type_=sa.String(length=128),
                              existing_nullable=True)
    # Seal the seeds stored in the clear before this revision. `flask db upgrade`
    # runs inside the app, so SECRET_KEY is the one the app will open them with.
    from app.core.secretbox import PREFIX, seal

    bind = op.get_bind()
    rows = bind.execute(sa.select(_USERS.c.id, _USERS.c.totp_secret).where(_USERS.c.totp_secret.is_not(None))).all()
    for user_id, secret in rows:
        if not secret.startswith(PREFIX):
            # The purpose names the user (as app.security.services does): a seed copied
            # onto another user's row does not open.
            sealed = seal(secret, f"totp:{user_id}", secret_key=current_app.config["SECRET_KEY"])
            bind.execute(_USERS.update().where(_USERS.c.id == user_id).values(totp_secret=sealed))


def downgrade():
    from app.core.secretbox import PREFIX, unseal

    bind = op.get_bind()
    rows = bind.execute(sa.select(_USERS.c.id, _USERS.c.totp_secret).where(_USERS.c.totp_secret.is_not(None))).all()
    for user_id, secret in rows:
        if secret.startswith(PREFIX):
            plain = unseal(secret, f"totp:{user_id}")
            bind.execute(_USERS.update().where(_USERS.c.id == user_id).values(totp_secret=plain))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('totp_secret', existing_type=sa.String(length=128), type_=sa.String(length=64),
                              existing_nullable=True)
