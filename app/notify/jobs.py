"""Delivery jobs for outbox rows (run by RQ workers, or in-process)."""

from __future__ import annotations

import logging
import smtplib
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.core.locks import run_lock
from app.core.queue import JOB_TIMEOUT, job
from app.core.types import utcnow
from app.extensions import db
from app.invoices.models import Invoice, InvoiceStatus
from app.notify.email import deliver
from app.notify.errors import DeliveryFailed
from app.notify.models import EmailMessage, MessageStatus
from app.notify.outbox import flush_outbox

log = logging.getLogger(__name__)


def email_lease() -> timedelta:
    """How long a claimed email belongs to the job sending it: longer than an RQ job
    may run (it is killed then) and than a slow SMTP exchange."""
    return timedelta(seconds=max(JOB_TIMEOUT, 6 * current_app.config["MAIL_TIMEOUT"]) + 30)


def is_permanent(error: Exception) -> bool:
    """Whether the mail server refused this message for good (a 5xx about its recipients or content).

    Anything else (connection refused, timeouts, 4xx, a login problem) is the
    server's or our configuration's trouble: the message waits for it to pass.
    """
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(500 <= code < 600 for code, _ in error.recipients.values())
    return isinstance(error, smtplib.SMTPDataError) and 500 <= error.smtp_code < 600


def _retry_delay(attempts: int) -> timedelta:
    intervals = current_app.config["OUTBOX_RETRY_INTERVALS"]
    return timedelta(seconds=intervals[min(attempts, len(intervals)) - 1])


@job
def send_email(message_id: int) -> str:
    """Send one outbox email unless it was sent, has failed for good, or is not due yet.

    The job claims the message with a compare-and-set (queued and due -> one
    more attempt, held for a lease) and commits before talking to the mail
    server, so no transaction or lock stays open during SMTP, and a second job
    for the same message (an RQ retry, the sweeper's copy) finds it not due and
    leaves it. A mail server that is down or answers 4xx makes the message
    wait: retried with backoff (OUTBOX_RETRY_INTERVALS, about three days in
    all) until OUTBOX_MAX_ATTEMPTS, then `failed` (`flask outbox retry-failed`
    queues those again after a longer outage). A 5xx refusal of the message
    itself ends it `failed` at once. Delivery is at least once: if the process dies
    between the SMTP answer and our commit, the lease runs out and the sweeper
    sends again with the same Message-ID.

    Returns "sent", "failed", "cancelled" (the proforma it asks to pay was
    paid meanwhile), "waiting" (not due: backoff, or another job has it) or
    "skipped" (sent, failed or gone); raises DeliveryFailed after a failed
    attempt that will be retried.
    """
    now = utcnow()
    lease = now + email_lease()
    ours = sa.and_(EmailMessage.id == message_id, EmailMessage.claimed_until == lease)
    claimed = _claim(message_id, now, lease)
    message = db.session.get(EmailMessage, message_id)
    if not claimed:
        outcome = "waiting" if message is not None and message.status is MessageStatus.QUEUED else "skipped"
        db.session.rollback()
        return outcome
    if message.pay_invoice_id is not None and not _still_to_pay(message.pay_invoice_id):
        db.session.rollback()
        _record(ours, status=MessageStatus.CANCELLED, claimed_until=None, next_attempt_at=None)
        return "cancelled"
    db.session.expunge(message)  # deliver() reads a detached copy:
    db.session.rollback()  # no transaction stays open during SMTP
    return _attempt(message, ours)


def _claim(message_id: int, now, lease) -> bool:
    """Compare-and-set: a queued, due, unclaimed message gets one more attempt, held until `lease`."""
    claimed = (
        db.session.execute(
            sa.update(EmailMessage)
            .where(
                EmailMessage.id == message_id,
                EmailMessage.status == MessageStatus.QUEUED,
                sa.or_(EmailMessage.next_attempt_at.is_(None), EmailMessage.next_attempt_at <= now),
                sa.or_(EmailMessage.claimed_until.is_(None), EmailMessage.claimed_until <= now),
            )
            .values(attempts=EmailMessage.attempts + 1, last_attempt_at=now, claimed_until=lease)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )
    db.session.commit()
    return claimed


def _attempt(message: EmailMessage, ours) -> str:
    """Talk to the mail server once and record the outcome, while the claim `ours` holds."""
    try:
        deliver(message)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
        if is_permanent(exc) or message.attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]:
            outcome = {"status": MessageStatus.FAILED, "next_attempt_at": None}
        else:
            outcome = {"next_attempt_at": utcnow() + _retry_delay(message.attempts)}
        # Only while the claim is still ours (a job past its lease lost the message to another).
        recorded = _record(ours, claimed_until=None, last_error=error, **outcome)
        if recorded and "status" in outcome:
            log.warning("email #%s failed after %s attempt(s): %s", message.id, message.attempts, error)
            return "failed"
        raise DeliveryFailed(error) from exc
    _record(
        ours, status=MessageStatus.SENT, claimed_until=None, sent_at=utcnow(), last_error=None, next_attempt_at=None
    )
    return "sent"


def _still_to_pay(invoice_id: int) -> bool:
    """Whether the proforma a "please pay" email is about is still unpaid (a mail outage may have
    held the email while the client paid)."""

    return db.session.scalar(sa.select(Invoice.status).where(Invoice.id == invoice_id)) in (None, InvoiceStatus.UNPAID)


def _record(condition, **values) -> bool:
    """Write an attempt's outcome if `condition` (our claim) still holds; whether it did."""
    done = (
        db.session.execute(
            sa.update(EmailMessage).where(condition).values(**values).execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )
    db.session.commit()
    if not done:
        log.warning("an email job outlived its claim; its outcome was not recorded: %s", values)
    return done


@job
def flush_outbox_job() -> dict:
    """The outbox sweeper (scheduled every minute by `rq cron app/cron.py` on every host):
    one sweep at a time, the copies another host's scheduler enqueued skip."""

    with run_lock("outbox-flush") as mine:
        if not mine:
            return {"skipped": "another outbox sweep is in progress"}
        found, handed = flush_outbox()
    return {"found": found, "handed": handed}
