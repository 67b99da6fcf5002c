"""A user's language may be unset: they then read their client's default language

Revision ID: f1a3c5e7b9d2
Revises: e5b2d4f6a8c0

users.language becomes nullable. A user whose language equals their client's had
never chosen one (sign-up copied the default), so it is cleared; and the languages no
longer offered (de, fr: no catalog) fall back: a user's to their client's, a client's
to English.
"""

import sqlalchemy as sa
from alembic import op

revision = "f1a3c5e7b9d2"
down_revision = "e5b2d4f6a8c0"
branch_labels = None
depends_on = None

OFFERED = "('en', 'ro', 'es', 'ru', 'hi')"


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.alter_column("language", existing_type=sa.String(8), nullable=True)
    op.execute(f"UPDATE clients SET language = 'en' WHERE language NOT IN {OFFERED}")
    op.execute(
        f"UPDATE users SET language = NULL WHERE language NOT IN {OFFERED} "
        "OR language = (SELECT c.language FROM clients c WHERE c.id = users.client_id)"
    )


def downgrade():
    op.execute("UPDATE users SET language = (SELECT c.language FROM clients c WHERE c.id = users.client_id)")
    with op.batch_alter_table("users") as batch:
        batch.alter_column("language", existing_type=sa.String(8), nullable=False)
