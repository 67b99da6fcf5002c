"""The sweeper: hands rows still waiting in the outbox to the queue again."""

from __future__ import annotations

import sqlalchemy as sa

from app.core.queue import enqueue
from app.extensions import db
from app.notify.models import EmailMessage, MessageStatus


def flush_outbox() -> tuple[int, int]:
    """Enqueue every queued email. Returns (found, handed to the queue).

    Safe to run any time: a job skips a message another job already sent.
    """
    ids = db.session.scalars(
        sa.select(EmailMessage.id)
        .where(EmailMessage.status == MessageStatus.QUEUED)
        .order_by(EmailMessage.id)
    ).all()
    db.session.rollback()  # end our read before in-process jobs write
    handed = sum(1 for message_id in ids if enqueue(EmailMessage.__outbox_job__, message_id))
    return len(ids), handed
