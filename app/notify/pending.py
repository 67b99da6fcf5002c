"""Notices told after the transaction that caused them: rendering outside the billing run's batches.

Inside `deferred_notices()` (the billing run), a domain event's handler does not
render its emails and SMS: it writes a PendingNotice row (the event and its data)
in the caller's transaction, so the notice commits if and only if its event does.
`render_pending_notices()` then renders each notice's messages and deletes its row
in ONE transaction of its own: a notice is told exactly once, whoever renders it
(the run right after each batch, or the outbox sweeper if the run died). Two
renderers never take the same row (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite:
the DELETE takes the database's write lock first).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import sqlalchemy as sa

from app.extensions import db
from app.notify.models import PendingNotice

_deferring: ContextVar[bool] = ContextVar("deferring_notices", default=False)
_handlers: dict[str, Callable] = {}


@contextmanager
def deferred_notices() -> Iterator[None]:
    """Handlers called inside write PendingNotice rows instead of rendering."""
    token = _deferring.set(True)
    try:
        yield
    finally:
        _deferring.reset(token)


def deferrable(event: str, handler: Callable) -> Callable:
    """`handler` for `event`, recording a PendingNotice instead when notices are deferred."""
    _handlers[event] = handler

    @functools.wraps(handler)
    def wrapper(sender, **data) -> None:
        if _deferring.get():
            db.session.add(PendingNotice(event=event, payload=data))
        else:
            handler(sender, **data)

    return wrapper


def render_pending_notices() -> int:
    """Render the pending notices, oldest first, each in a transaction of its own
    (committed). Returns how many were rendered. For the billing run after each
    batch and for the outbox sweeper (flush_outbox)."""
    db.session.flush()  # nothing of the caller's stays pending in the session
    rendered = 0
    token = _deferring.set(False)
    try:
        while notice := _take_one():
            event, payload = notice
            _handlers[event](None, **payload)
            db.session.commit()  # the messages, and the notice gone, together
            rendered += 1
    except BaseException:
        db.session.rollback()  # the notice stays for the next try
        raise
    finally:
        _deferring.reset(token)
    return rendered


def _take_one() -> tuple[str, dict] | None:
    """Delete the oldest pending notice no one else holds; its event and data (None: none left)."""
    oldest = (
        sa.select(PendingNotice.id)
        .order_by(PendingNotice.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    row = db.session.execute(
        sa.delete(PendingNotice)
        .where(PendingNotice.id == oldest)
        .returning(PendingNotice.event, PendingNotice.payload)
        .execution_options(synchronize_session=False)
    ).first()
    return (row.event, row.payload) if row else None
