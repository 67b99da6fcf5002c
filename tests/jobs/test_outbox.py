"""The email outbox in the embedded shape (no Redis): a real SMTP server on
loopback, each message sent once, retries, and the sweeper."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.core.types import utcnow
from app.extensions import db
from app.notify.jobs import send_email
from app.notify.models import EmailMessage, MessageStatus
from tests.helpers import make_owner

pytestmark = pytest.mark.app_config(smtp=True)


def only_message(app) -> EmailMessage:
    with app.app_context():
        message = db.session.scalars(sa.select(EmailMessage)).one()
        db.session.expunge(message)
        return message


def test_welcome_email_reaches_smtp_exactly_once(app, smtp_server):
    owner = make_owner(app, email="new@example.com")

    received = smtp_server.handler.messages
    assert len(received) == 1
    assert received[0].rcpt_tos == ["new@example.com"]
    body = received[0].content.decode()
    assert f"your client ID is {owner.client_id}" in body
    message = only_message(app)
    assert message.status is MessageStatus.SENT and message.attempts == 1
    assert f"Message-ID: <outbox-{message.id}@billing.example.test>" in body

    # Jobs may run twice (at-least-once queues, the sweeper): nothing goes out again.
    with app.app_context():
        assert send_email(message.id) == "skipped"
    assert len(received) == 1


def test_smtp_down_keeps_message_queued_then_flush_sends_it_once(app, smtp_server, runner):
    smtp_server.stop()
    make_owner(app)  # sign-up succeeds although mail is down

    message = only_message(app)
    assert message.status is MessageStatus.QUEUED
    assert message.attempts == 1 and "ConnectionRefusedError" in message.last_error

    assert message.next_attempt_at > message.last_attempt_at, "a retry time is set"

    smtp_server.start()
    waiting = runner.invoke(args=["outbox", "flush"])
    assert "0 queued message(s)" in waiting.output, "the sweeper respects the backoff"
    assert smtp_server.handler.messages == []
    result = runner.invoke(args=["outbox", "flush", "--now"])
    assert result.exit_code == 0, result.output
    assert "1 queued message(s), 1 handed to the queue." in result.output
    assert len(smtp_server.handler.messages) == 1
    assert only_message(app).status is MessageStatus.SENT

    runner.invoke(args=["outbox", "flush", "--now"])
    assert len(smtp_server.handler.messages) == 1


def test_a_job_inside_the_backoff_or_the_claim_does_not_try_again(app, smtp_server):
    smtp_server.stop()
    make_owner(app)  # attempt 1 fails: retry in a minute
    message_id = only_message(app).id
    with app.app_context():
        assert send_email(message_id) == "waiting", "an RQ retry and the sweeper's copy must not both try"
        message = db.session.get(EmailMessage, message_id)
        message.next_attempt_at, message.claimed_until = None, utcnow() + timedelta(minutes=1)  # being sent
        db.session.commit()
        assert send_email(message_id) == "waiting"
    assert only_message(app).attempts == 1


def test_after_the_last_attempt_it_fails_and_retry_failed_sends_it_once(app, smtp_server, runner):
    smtp_server.stop()
    make_owner(app)  # attempt 1, in-process
    max_attempts = app.config["OUTBOX_MAX_ATTEMPTS"]
    for _ in range(max_attempts - 1):
        runner.invoke(args=["outbox", "flush", "--now"])  # as if each retry time had come
    message = only_message(app)
    assert message.status is MessageStatus.FAILED and message.attempts == max_attempts
    assert "0 queued message(s)" in runner.invoke(args=["outbox", "flush", "--now"]).output

    smtp_server.start()  # the outage is over: staff queue the failed ones again
    result = runner.invoke(args=["outbox", "retry-failed"])
    assert "1 failed email(s) queued again" in result.output, result.output
    assert len(smtp_server.handler.messages) == 1
    assert only_message(app).status is MessageStatus.SENT
    runner.invoke(args=["outbox", "retry-failed"])
    assert len(smtp_server.handler.messages) == 1


def test_a_recipient_refused_for_good_fails_at_once(app, smtp_server, runner):
    smtp_server.handler.refuse = {"gone@example.com"}
    make_owner(app, email="gone@example.com")
    message = only_message(app)
    assert message.status is MessageStatus.FAILED and message.attempts == 1
    assert "550" in message.last_error
    smtp_server.handler.refuse = set()
    assert "0 failed email(s) queued again" in runner.invoke(args=["outbox", "retry-failed"]).output


@pytest.fixture
def enqueued(monkeypatch):
    """Record what is handed to the queue instead of running it."""
    calls = []
    monkeypatch.setattr("app.core.queue.enqueue", lambda path, *args: calls.append((path, *args)) or True)
    return calls


def _sign_up(email="x@example.com"):
    from app.auth.services import SignUp, register_client
    from app.clients.models import ClientKind

    return register_client(SignUp(email=email, password="p" * 12, name="X", kind=ClientKind.PERSON, country="RO"))


def test_outbox_rows_are_enqueued_only_by_the_real_commit(app, enqueued):
    app.config["OUTBOX_BATCH"] = 1  # a range of one id per email: the calls name the rows
    with app.app_context():
        _sign_up()
        with db.session.begin_nested():  # releasing a savepoint is not the commit
            _sign_up("y@example.com")
        assert enqueued == []
        db.session.commit()
    assert [call[0] for call in enqueued] == ["app.notify.jobs.send_email_batch"] * 2


def test_a_rolled_back_savepoint_drops_only_its_own_rows(app, enqueued):
    app.config["OUTBOX_BATCH"] = 1
    with app.app_context():
        _sign_up()
        savepoint = db.session.begin_nested()
        _sign_up("y@example.com")
        savepoint.rollback()
        db.session.commit()
        kept = db.session.scalars(sa.select(EmailMessage.id)).all()
    assert len(kept) == 1
    assert enqueued == [("app.notify.jobs.send_email_batch", kept[0], kept[0])]


def test_a_rolled_back_transaction_enqueues_nothing(app, enqueued):
    with app.app_context():
        _sign_up()
        db.session.rollback()
        db.session.commit()
    assert enqueued == []
