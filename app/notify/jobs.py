"""Delivery jobs for outbox rows (run by RQ workers, or in-process)."""

from __future__ import annotations

import logging
import smtplib
import time
from collections import Counter
from datetime import datetime, timedelta

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
from app.notify.smtp import is_refusal

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


@job(queue="mail", batch="app.notify.jobs.send_email_batch")
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

    Emails committed together are handed to `send_email_batch` in ranges of ids
    instead (app.core.queue.batch_calls); this job remains for one message.

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


#: A batch stops taking new messages after this long, well inside its RQ job timeout; the rest
#: are released for the sweeper (a killed job would leave them claimed until the lease ends).
BATCH_SECONDS = JOB_TIMEOUT / 3
MAX_BATCH = 1000


@job(queue="mail")
def send_email_batch(first_id: int, last_id: int) -> dict:
    """Send every queued, due, unclaimed email with an id from `first_id` to `last_id`, as
    `send_email` sends one, over one SMTP connection. Returns how many ended how.

    One statement claims them all (PostgreSQL: FOR UPDATE SKIP LOCKED, so two
    workers never claim the same message and never wait for each other) and
    commits before the first is sent; outcomes are written in a few statements
    at the end, each only while the claim is still ours. A refused message is
    recorded and the next one goes; when the server itself is in trouble (down,
    a timeout, 421) the messages not yet tried wait with it, one attempt each.
    """
    now = utcnow()
    lease = now + email_lease()
    messages = _claim_batch(first_id, min(last_id, first_id + MAX_BATCH - 1), now, lease)
    outcomes: Counter[str] = Counter()
    if not messages:
        return dict(outcomes)
    paid = _paid_meanwhile(messages)
    if paid:
        _record_many([m.id for m in messages if m.pay_invoice_id in paid], lease, status=MessageStatus.CANCELLED)
        outcomes["cancelled"] = sum(1 for m in messages if m.pay_invoice_id in paid)
        messages = [m for m in messages if m.pay_invoice_id not in paid]
    sent, failures, deadline = [], [], time.monotonic() + BATCH_SECONDS
    for index, message in enumerate(messages):
        if time.monotonic() > deadline:
            outcomes["released"] = _release(messages[index:], lease)
            break
        try:
            deliver(message)
        except Exception as exc:
            if is_refusal(exc):
                failures.append((message, exc))
                continue
            failures.extend((later, exc) for later in messages[index:])  # they would meet the same trouble
            break
        sent.append(message.id)
    outcomes["sent"] = _record_many(sent, lease, status=MessageStatus.SENT, sent_at=utcnow(), last_error=None)
    outcomes.update(_record_failures(failures, lease))
    return {k: v for k, v in outcomes.items() if v}


def _claim_batch(first_id: int, last_id: int, now: datetime, lease: datetime) -> list[EmailMessage]:
    """Claim the due messages in [first_id, last_id] in one statement and commit; detached copies of them."""
    due = sa.and_(
        EmailMessage.status == MessageStatus.QUEUED,
        sa.or_(EmailMessage.next_attempt_at.is_(None), EmailMessage.next_attempt_at <= now),
        sa.or_(EmailMessage.claimed_until.is_(None), EmailMessage.claimed_until <= now),
    )
    candidates = (
        sa.select(EmailMessage.id)
        .where(due, EmailMessage.id.between(first_id, last_id))
        .order_by(EmailMessage.id)
        .limit(last_id - first_id + 1)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)  # another worker's rows: not ours to wait for
    columns = ("id", "recipients", "subject", "body_text", "body_html", "attempts", "pay_invoice_id")
    rows = db.session.execute(
        sa.update(EmailMessage)
        .where(EmailMessage.id.in_(candidates), due)  # due again: a plain compare-and-set where FOR UPDATE is a no-op
        .values(attempts=EmailMessage.attempts + 1, last_attempt_at=now, claimed_until=lease)
        .returning(*(getattr(EmailMessage, c) for c in columns))
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()  # no transaction stays open during SMTP
    return sorted((EmailMessage(**dict(zip(columns, row, strict=True))) for row in rows), key=lambda m: m.id)


def _paid_meanwhile(messages: list[EmailMessage]) -> set[int]:
    """The proformas, among those these "please pay" emails are about, that are no longer to pay."""
    invoice_ids = {m.pay_invoice_id for m in messages if m.pay_invoice_id is not None}
    if not invoice_ids:
        return set()
    found = db.session.execute(sa.select(Invoice.id, Invoice.status).where(Invoice.id.in_(invoice_ids))).all()
    db.session.rollback()
    return {invoice_id for invoice_id, status in found if status is not InvoiceStatus.UNPAID}


def _record_many(ids: list[int], lease: datetime, **values) -> int:
    """Write one outcome for messages `ids` still claimed by us (`lease`); how many were."""
    if not ids:
        return 0
    done = db.session.execute(
        sa.update(EmailMessage)
        .where(EmailMessage.id.in_(ids), EmailMessage.claimed_until == lease)
        .values(claimed_until=None, next_attempt_at=None, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if done != len(ids):
        log.warning("%s email(s) outlived their claim; their outcome was not recorded: %s", len(ids) - done, values)
    return done


def _record_failures(failures: list[tuple[EmailMessage, Exception]], lease: datetime) -> Counter[str]:
    """Record failed attempts, each with its error and backoff (or `failed` for good), in one transaction."""
    outcomes: Counter[str] = Counter()
    for message, exc in failures:
        error = f"{type(exc).__name__}: {exc}"[:500]
        if is_permanent(exc) or message.attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]:
            outcome = {"status": MessageStatus.FAILED, "next_attempt_at": None}
            log.warning("email #%s failed after %s attempt(s): %s", message.id, message.attempts, error)
        else:
            outcome = {"next_attempt_at": utcnow() + _retry_delay(message.attempts)}
        done = db.session.execute(
            sa.update(EmailMessage)
            .where(EmailMessage.id == message.id, EmailMessage.claimed_until == lease)
            .values(claimed_until=None, last_error=error, **outcome)
            .execution_options(synchronize_session=False)
        ).rowcount
        outcomes["failed" if "status" in outcome else "retry"] += done
    db.session.commit()
    return outcomes


def _release(messages: list[EmailMessage], lease: datetime) -> int:
    """Give back claimed messages not tried (their attempt did not happen): due again for the sweeper."""
    done = db.session.execute(
        sa.update(EmailMessage)
        .where(EmailMessage.id.in_([m.id for m in messages]), EmailMessage.claimed_until == lease)
        .values(claimed_until=None, attempts=EmailMessage.attempts - 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
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
