"""The sweeper: hands rows still waiting in the outbox to the queue again."""

from __future__ import annotations

import sqlalchemy as sa

from app.core.queue import enqueue
from app.core.types import utcnow
from app.extensions import db
from app.notify.models import EmailMessage, MessageStatus


def flush_outbox(*, ignore_backoff: bool = False) -> tuple[int, int]:
    """Enqueue every queued email and SMS whose retry time has come. Returns (found, handed).

    Safe to run any time: a job skips a message another job already sent.
    `ignore_backoff` also takes messages still waiting out their retry delay; an
    SMS waiting for the end of quiet hours (`not_before`) always waits. An SMS
    left `sending` past its lease (its worker died mid-send) is handed over too:
    the job marks it failed with an unknown outcome and does not resend it.
    """
    from app.notify.models import SmsMessage, SmsStatus
    from app.notify.sms import sending_lease

    now = utcnow()
    query = sa.select(EmailMessage.id).where(EmailMessage.status == MessageStatus.QUEUED)
    if not ignore_backoff:
        query = query.where(sa.or_(EmailMessage.next_attempt_at.is_(None), EmailMessage.next_attempt_at <= now))
    ids = db.session.scalars(query.order_by(EmailMessage.id)).all()

    queued_sms = sa.and_(
        SmsMessage.status == SmsStatus.QUEUED,
        sa.or_(SmsMessage.not_before.is_(None), SmsMessage.not_before <= now),
    )
    if not ignore_backoff:
        queued_sms = sa.and_(
            queued_sms, sa.or_(SmsMessage.next_attempt_at.is_(None), SmsMessage.next_attempt_at <= now)
        )
    stale_sending = sa.and_(
        SmsMessage.status == SmsStatus.SENDING,
        sa.or_(SmsMessage.last_attempt_at.is_(None), SmsMessage.last_attempt_at <= now - sending_lease()),
    )
    sms_ids = db.session.scalars(
        sa.select(SmsMessage.id).where(sa.or_(queued_sms, stale_sending)).order_by(SmsMessage.id)
    ).all()
    db.session.rollback()  # end our read before in-process jobs write
    handed = sum(1 for message_id in ids if enqueue(EmailMessage.__outbox_job__, message_id))
    handed += sum(1 for message_id in sms_ids if enqueue(SmsMessage.__outbox_job__, message_id))
    return len(ids) + len(sms_ids), handed
