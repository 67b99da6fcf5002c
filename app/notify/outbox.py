"""The sweeper: hands rows still waiting in the outbox to the queue again."""

from __future__ import annotations

import sqlalchemy as sa

from app.core.queue import enqueue
from app.core.types import utcnow
from app.extensions import db
from app.notify.models import EmailMessage, MessageStatus


def flush_outbox(*, ignore_backoff: bool = False) -> tuple[int, int]:
    """Enqueue every queued email whose retry time has come. Returns (found, handed).

    Safe to run any time: a job skips a message another job already sent.
    `ignore_backoff` also takes messages still waiting out their retry delay.
    """
    query = sa.select(EmailMessage.id).where(EmailMessage.status == MessageStatus.QUEUED)
    if not ignore_backoff:
        query = query.where(sa.or_(EmailMessage.next_attempt_at.is_(None), EmailMessage.next_attempt_at <= utcnow()))
    ids = db.session.scalars(query.order_by(EmailMessage.id)).all()
    db.session.rollback()  # end our read before in-process jobs write
    handed = sum(1 for message_id in ids if enqueue(EmailMessage.__outbox_job__, message_id))
    return len(ids), handed
