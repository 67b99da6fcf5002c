"""Finding and locking clients and their users: the row lock every balance or document change holds."""

from __future__ import annotations

import sqlalchemy as sa

from app.clients.models import Client, ProfileChange, User
from app.core.actors import Actor
from app.extensions import db


def normalize_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalize_email(email)))


def lock_client(client_id: int) -> Client:
    """The client row, locked until the transaction ends (SELECT ... FOR UPDATE).

    Every change of a client's money happens under this lock. On SQLite, which
    has no row locks, it takes the database's write lock (see app.core.sql).
    """
    return db.session.execute(
        sa.select(Client).where(Client.id == client_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()


def log_change(user: User, field: str, old: str | None, new: str | None, *, actor: Actor) -> None:
    """A row of `user`'s change log when `old` and `new` differ: who changed it, from which IP."""
    if old != new:
        db.session.add(
            ProfileChange(
                client_id=user.client_id,
                user_id=user.id,
                actor=str(actor),
                field=field,
                old_value=old,
                new_value=new,
                ip=actor.ip,
            )
        )
