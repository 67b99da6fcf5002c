"""The sweeper: hands rows still waiting in the outbox to the queue again."""

from __future__ import annotations

import sqlalchemy as sa

from app.core.queue import batch_calls, enqueue_many, not_waiting
from app.core.types import utcnow
from app.extensions import db
from app.invoices.services import recheck_due
from app.notify.models import EmailMessage, MessageStatus, SmsMessage, SmsStatus
from app.notify.pending import render_pending_notices
from app.notify.sms import sending_lease


def flush_outbox(*, ignore_backoff: bool = False) -> tuple[int, int]:
    """Enqueue every queued email and SMS whose retry time has come. Returns (found, handed).

    Safe to run any time: a job skips a message another job already sent.
    `ignore_backoff` makes messages waiting out their retry delay due now (not an
    email a job is sending right now); an SMS waiting for the end of quiet
    hours (`not_before`) always waits. An SMS
    left `sending` past its lease (its worker died mid-send) is handed over too:
    the job marks it failed with an unknown outcome and does not resend it.
    First it renders the notices a billing run recorded but did not get to
    render (it died between a batch's commit and the rendering).
    """

    render_pending_notices()
    now = utcnow()
    if ignore_backoff:
        # Due now (the jobs check it); an email a job is sending right now keeps its claim.
        db.session.execute(
            sa.update(EmailMessage)
            .where(EmailMessage.status == MessageStatus.QUEUED)
            .values(next_attempt_at=None)
            .execution_options(synchronize_session=False)
        )
        db.session.execute(
            sa.update(SmsMessage)
            .where(SmsMessage.status == SmsStatus.QUEUED)
            .values(next_attempt_at=None)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    query = sa.select(EmailMessage.id).where(
        EmailMessage.status == MessageStatus.QUEUED,
        sa.or_(EmailMessage.next_attempt_at.is_(None), EmailMessage.next_attempt_at <= now),
        sa.or_(EmailMessage.claimed_until.is_(None), EmailMessage.claimed_until <= now),
    )
    ids = db.session.scalars(query.order_by(EmailMessage.id)).all()

    queued_sms = sa.and_(
        SmsMessage.status == SmsStatus.QUEUED,
        sa.or_(SmsMessage.not_before.is_(None), SmsMessage.not_before <= now),
        sa.or_(SmsMessage.next_attempt_at.is_(None), SmsMessage.next_attempt_at <= now),
    )
    stale_sending = sa.and_(
        SmsMessage.status == SmsStatus.SENDING,
        sa.or_(SmsMessage.last_attempt_at.is_(None), SmsMessage.last_attempt_at <= now - sending_lease()),
    )
    sms_ids = db.session.scalars(
        sa.select(SmsMessage.id).where(sa.or_(queued_sms, stale_sending)).order_by(SmsMessage.id)
    ).all()
    db.session.rollback()  # end our read before in-process jobs write
    # A message whose job still waits in Redis (a backlog after a big billing run)
    # is not handed again: that would only multiply the jobs. Emails go in ranges
    # (one batch job per OUTBOX_BATCH ids), named as the commit that wrote them named them.
    found = handed = 0
    for path, batch in ((EmailMessage.__outbox_job__, ids), (SmsMessage.__outbox_job__, sms_ids)):
        jobs = batch_calls(path, list(batch))
        calls = not_waiting(list(jobs))
        todo = sum(len(jobs[call]) for call in calls)
        found += todo
        if calls and enqueue_many(calls):
            handed += todo
    recheck_due()  # VAT numbers the EU VIES register could not answer about yet
    return found, handed
