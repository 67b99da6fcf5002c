"""The email outbox in the embedded shape (no Redis): a real SMTP server on
loopback, each message sent once, retries, and the sweeper."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.notify.jobs import DeliveryFailed, send_email
from app.notify.models import EmailMessage, MessageStatus
from tests.conftest import smtp_config
from tests.helpers import make_owner


@pytest.fixture
def app_overrides(smtp_server):
    return smtp_config(smtp_server)


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

    smtp_server.start()
    result = runner.invoke(args=["outbox", "flush"])
    assert result.exit_code == 0, result.output
    assert "1 queued message(s), 1 handed to the queue." in result.output
    assert len(smtp_server.handler.messages) == 1
    assert only_message(app).status is MessageStatus.SENT

    runner.invoke(args=["outbox", "flush"])
    assert len(smtp_server.handler.messages) == 1


def test_message_fails_after_the_last_attempt(app, smtp_server):
    smtp_server.stop()
    make_owner(app)  # attempt 1, in-process
    message_id = only_message(app).id
    max_attempts = app.config["OUTBOX_MAX_ATTEMPTS"]

    with app.app_context():
        for _ in range(max_attempts - 2):
            with pytest.raises(DeliveryFailed):
                send_email(message_id)  # RQ retries with backoff on this error
        assert send_email(message_id) == "failed"
        assert send_email(message_id) == "skipped"

    message = only_message(app)
    assert message.status is MessageStatus.FAILED
    assert message.attempts == max_attempts


def test_rolled_back_event_sends_nothing(app, smtp_server):
    from app.account.models import ClientKind
    from app.account.services import SignUp, register_client

    with app.app_context():
        register_client(
            SignUp(email="x@example.com", password="p" * 12, name="X", kind=ClientKind.PERSON, country="RO")
        )
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count(EmailMessage.id))) == 0
        db.session.commit()  # a later commit must not send the forgotten message
    assert smtp_server.handler.messages == []
