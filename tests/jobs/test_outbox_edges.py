"""Edges of the outbox and the billing run: claims, stale SMS, what each recipient may see."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.billing.run import run_billing
from app.core.types import utcnow
from app.extensions import db
from app.invoices.models import Invoice, InvoiceStatus, QueuedItem
from app.notify.jobs import send_email
from app.notify.models import EmailMessage
from tests.helpers import make_owner, make_service
from tests.support.billing import make_order
from tests.support.config import NO_QUIET_HOURS
from tests.support.notifications import emails, sms
from tests.support.trusted import add_notified

pytestmark = pytest.mark.app_config(smtp=True, **NO_QUIET_HOURS)


def _only_email_id(app) -> int:
    with app.app_context():
        return db.session.scalars(sa.select(EmailMessage.id)).one()


def test_cancelled_order_releases_its_queued_items(app):
    owner = make_owner(app)
    with app.app_context():
        db.session.add(QueuedItem(client_id=owner.client_id, description="Setup fee", amount_minor=500))
        db.session.commit()
    run = date(2027, 3, 1)
    order_id, _ = make_order(app, owner.client_id, due=run - timedelta(days=30))  # takes the queued item
    with app.app_context():
        assert db.session.scalar(sa.select(QueuedItem.invoice_id)) == order_id
        assert run_billing(run).cancelled_orders == [order_id]
        assert db.session.get(Invoice, order_id).status is InvoiceStatus.CANCELLED
        # The setup fee must wait for the client's next proforma, as on termination.
        assert db.session.scalar(sa.select(QueuedItem.invoice_id)) is None


def test_a_second_job_while_the_first_is_sending_leaves_the_email_alone(app, smtp_server, monkeypatch):
    monkeypatch.setattr("app.core.queue.enqueue", lambda path, *args: True)  # hold the job
    make_owner(app)
    message_id = _only_email_id(app)
    import app.notify.jobs as jobs

    real, inside, release = jobs.deliver, threading.Event(), threading.Event()

    def slow_deliver(message):  # a slow mail server
        inside.set()
        release.wait(10)
        real(message)

    monkeypatch.setattr(jobs, "deliver", slow_deliver)
    outcomes = []

    def job():
        with app.app_context():
            outcomes.append(send_email(message_id))

    first = threading.Thread(target=job)
    first.start()
    assert inside.wait(10)
    job()  # the sweeper's copy, or an RQ retry, while the first job talks to the server
    release.set()
    first.join(10)
    assert outcomes == ["waiting", "sent"]
    assert len(smtp_server.handler.messages) == 1


def test_suspension_notice_does_not_leak_the_invoice_to_a_user_who_may_not_see_it(app):
    owner = make_owner(app)
    add_notified(app, owner.client_id, "ops@example.com", ["services"], ["service_status"], "+40744123456", True)
    run = date(2026, 12, 1)
    make_service(app, owner.client_id, due=run - timedelta(days=5), label="shop.example.ro")
    with app.app_context():
        run_billing(run)
    [mail] = [e for e in emails(app, "service_suspended") if e.recipients == ["ops@example.com"]]
    assert "PF-" not in mail.body_text and "/l/" not in mail.body_text
    assert all("PF-" not in m.body for m in sms(app) if m.phone == "+40744123456")


def test_a_held_renewal_sms_is_not_sent_for_a_proforma_paid_meanwhile(app, monkeypatch, runner):
    from datetime import UTC, datetime

    from app.core.types import utcnow
    from app.notify.models import SmsMessage, SmsStatus
    from tests.helpers import pay

    app.config.update(SMS_QUIET_START="20:00", SMS_QUIET_END="09:00")
    owner = make_owner(app, phone="+40722123456", sms_opt_in=True)
    run = date(2026, 12, 1)
    make_service(app, owner.client_id, due=run + timedelta(days=10))
    night = datetime.combine(utcnow().date(), datetime.min.time(), tzinfo=UTC) + timedelta(days=1, hours=2)
    monkeypatch.setattr("app.notify.handlers.utcnow", lambda: night)
    with app.app_context():
        [proforma_id] = run_billing(run).proforma_ids
        number = db.session.get(Invoice, proforma_id).number
    [held] = sms(app)
    assert held.status is SmsStatus.QUEUED and held.not_before is not None
    pay(app, number)  # paid before the morning
    with app.app_context():  # the morning comes
        db.session.execute(sa.update(SmsMessage).values(not_before=utcnow() - timedelta(minutes=1)))
        db.session.commit()
    runner.invoke(args=["outbox", "flush"])
    [after] = sms(app)
    assert after.status is not SmsStatus.SENT, f"'{after.body}' sent for a paid proforma"


def test_no_due_sms_for_a_free_renewal_settled_at_once(app):
    owner = make_owner(app, phone="+40722123456", sms_opt_in=True)
    make_service(app, owner.client_id, due=date(2026, 12, 6), price_minor=0)
    with app.app_context():
        [proforma_id] = run_billing(date(2026, 12, 1)).proforma_ids
        assert db.session.get(Invoice, proforma_id).status is InvoiceStatus.PAID
    assert [m.body for m in sms(app)] == []


def test_a_job_that_outlived_its_claim_does_not_overwrite_the_new_owner(app, smtp_server, monkeypatch):
    monkeypatch.setattr("app.core.queue.enqueue", lambda path, *args: True)  # hold the job
    make_owner(app)
    message_id = _only_email_id(app)
    import app.notify.jobs as jobs

    real = jobs.deliver

    def slow_deliver(message):  # meanwhile the lease ran out and another job claimed the message
        with app.app_context():
            db.session.execute(
                sa.update(EmailMessage).where(EmailMessage.id == message_id).values(claimed_until=utcnow(), attempts=7)
            )
            db.session.commit()
        real(message)

    monkeypatch.setattr(jobs, "deliver", slow_deliver)
    with app.app_context():
        assert send_email(message_id) == "sent"
        message = db.session.get(EmailMessage, message_id)
        assert (message.attempts, message.status.value) == (7, "queued"), "the other job's record stands"


def test_a_please_pay_email_held_by_a_mail_outage_is_cancelled_once_paid(app, smtp_server, runner):
    from app.notify.models import MessageStatus
    from tests.helpers import pay

    owner = make_owner(app)
    make_service(app, owner.client_id, due=date(2026, 12, 10))
    smtp_server.stop()  # the mail server is down during the billing run
    with app.app_context():
        [proforma_id] = run_billing(date(2026, 12, 1)).proforma_ids
        number = db.session.get(Invoice, proforma_id).number
    [held] = emails(app, "proforma_issued")
    assert held.status is MessageStatus.QUEUED

    pay(app, number)  # the client pays from the account meanwhile
    smtp_server.start()
    runner.invoke(args=["outbox", "flush", "--now"])

    [after] = emails(app, "proforma_issued")
    assert after.status is MessageStatus.CANCELLED
    subjects = [m.content.decode() for m in smtp_server.handler.messages]
    assert subjects and all(number not in s or "received your payment" in s.lower() for s in subjects)
