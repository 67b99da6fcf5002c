"""Delivery jobs for outbox rows (run by RQ workers, or in-process)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.core.queue import job
from app.core.types import utcnow
from app.extensions import db
from app.notify.email import deliver
from app.notify.models import EmailMessage, MessageStatus


class DeliveryFailed(Exception):
    """A send attempt failed and will be retried (RQ retries on this)."""


@job
def send_email(message_id: int) -> str:
    """Send one outbox email unless it was already sent or has given up.

    Holds the row lock while sending, so two jobs for the same message (the
    sweeper re-enqueued it) send it once; a job that finds the row locked leaves
    it to the job holding it. Delivery is at least once: if the process dies
    between the SMTP answer and our commit, the retry sends again with the same
    Message-ID. Returns what happened.
    """
    message = db.session.scalar(
        sa.select(EmailMessage).where(EmailMessage.id == message_id).with_for_update(skip_locked=True)
    )
    if message is None:
        db.session.rollback()
        exists = db.session.scalar(sa.select(EmailMessage.id).where(EmailMessage.id == message_id))
        return "busy" if exists else "skipped"
    if message.status is not MessageStatus.QUEUED:
        db.session.rollback()
        return "skipped"
    message.attempts += 1
    message.last_attempt_at = utcnow()
    try:
        deliver(message)
    except Exception as exc:
        message.last_error = f"{type(exc).__name__}: {exc}"[:500]
        if message.attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]:
            message.status = MessageStatus.FAILED
            db.session.commit()
            return "failed"
        intervals = current_app.config["OUTBOX_RETRY_INTERVALS"]
        wait = intervals[min(message.attempts, len(intervals)) - 1]
        message.next_attempt_at = utcnow() + timedelta(seconds=wait)
        db.session.commit()
        raise DeliveryFailed(message.last_error) from exc
    message.status = MessageStatus.SENT
    message.sent_at = utcnow()
    message.last_error = None
    message.next_attempt_at = None
    db.session.commit()
    return "sent"


@job
def flush_outbox_job() -> dict:
    """The outbox sweeper (scheduled every minute by `rq cron app/cron.py`)."""
    from app.notify.outbox import flush_outbox

    found, handed = flush_outbox()
    return {"found": found, "handed": handed}
