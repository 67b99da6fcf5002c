"""Billing events become emails and SMS for the right people, once."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.account.models import User, UserRole
from app.account.passwords import hash_password
from app.billing.run import run_billing
from app.extensions import db
from app.hosting.models import Service
from app.notify.models import EmailMessage, SmsMessage
from tests.conftest import smtp_config
from tests.helpers import make_owner, make_proforma, make_service, pay

RUN = date(2026, 12, 1)


@pytest.fixture
def app_overrides(smtp_server):
    # No quiet hours in these tests: every SMS is due at once.
    return {**smtp_config(smtp_server), "SMS_QUIET_START": "00:00", "SMS_QUIET_END": "00:00"}


@pytest.fixture
def owner(app):
    return make_owner(app, phone="+40722123456", sms_opt_in=True)


def add_trusted(app, client_id, email, permissions, types, phone=None, sms=False) -> int:
    with app.app_context():
        user = User(
            client_id=client_id,
            role=UserRole.TRUSTED,
            email=email,
            name="Trusted",
            password_hash=hash_password("trusted-password-1"),
            permissions=permissions,
            notification_types=types,
            phone=phone,
            sms_opt_in=sms,
        )
        db.session.add(user)
        db.session.commit()
        return user.id


def emails(app, template: str) -> list[EmailMessage]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(EmailMessage).where(EmailMessage.template == template).order_by(EmailMessage.id)
        ).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def sms(app) -> list[SmsMessage]:
    with app.app_context():
        rows = db.session.scalars(sa.select(SmsMessage).order_by(SmsMessage.id)).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def delivered_to(smtp_server, subject_part: str) -> list[list[str]]:
    return [m.rcpt_tos for m in smtp_server.handler.messages if subject_part in m.content.decode()]


def test_renewal_proforma_emails_subscribers_and_texts_opted_in_users_once(app, owner, smtp_server):
    trusted_invoices = add_trusted(app, owner.client_id, "acct@example.com", ["invoices.view"], ["invoices"])
    # Opted in to SMS, may see invoices, but takes no invoice emails: gets the SMS only.
    add_trusted(
        app,
        owner.client_id,
        "tech@example.com",
        ["services", "invoices.view"],
        ["service_status"],
        "+40733123456",
        True,
    )
    # Opted in to SMS but may not see invoices: no renewal SMS.
    add_trusted(app, owner.client_id, "ops@example.com", ["services"], [], "+40744123456", True)
    add_trusted(app, owner.client_id, "nosub@example.com", ["invoices.view"], [])
    make_service(app, owner.client_id, due=RUN + timedelta(days=10))

    with app.app_context():
        run_billing(RUN)
        run_billing(RUN)  # a second run writes nothing new

    [first, second] = emails(app, "proforma_issued")
    assert sorted([first.recipients[0], second.recipients[0]]) == ["acct@example.com", "owner@example.com"]
    number = re.search(r"proforma (PF-\d{4}-\d{6})", first.body_text).group(1)
    assert "/l/" in first.body_text and "https://billing.example.test/l/" in first.body_html
    assert sorted(delivered_to(smtp_server, number)) == [["acct@example.com"], ["owner@example.com"]]
    assert first.user_id in (owner.user_id, trusted_invoices)

    texts = sms(app)
    # The owner and the opted-in trusted user allowed to see invoices each get one SMS.
    assert sorted(m.phone for m in texts) == ["+40722123456", "+40733123456"]
    assert all(number in m.body and "do not reply" in m.body.lower() for m in texts)
    assert all(m.status.value == "sent" for m in texts)


def test_an_order_proforma_sends_no_sms(app, owner):
    make_proforma(app, owner.client_id, 1000)  # origin "order"
    assert len(emails(app, "proforma_issued")) == 1
    assert sms(app) == []


def test_no_sms_for_an_opted_out_user(app):
    opted_out = make_owner(app, email="quiet@example.com", phone="+40722000111", sms_opt_in=False)
    make_service(app, opted_out.client_id, due=RUN + timedelta(days=10))
    with app.app_context():
        run_billing(RUN)
    assert sms(app) == [] and len(emails(app, "proforma_issued")) == 1


def test_a_suspension_sends_one_email_naming_the_invoice_and_one_sms(app, owner, smtp_server):
    service_id = make_service(app, owner.client_id, due=RUN - timedelta(days=5), label="shop.example.ro")
    with app.app_context():
        run_billing(RUN)
        run_billing(RUN)
        assert db.session.get(Service, service_id).status.value == "suspended"
    [email] = emails(app, "service_suspended")
    assert "shop.example.ro" in email.subject
    number = re.search(r"Pay proforma (PF-\d{4}-\d{6}) \((€[\d.,]+)\)", email.body_text)
    assert number and "/l/" in email.body_text
    suspension_sms = [m for m in sms(app) if m.event_key.startswith("suspended:")]
    assert len(suspension_sms) == 1 and "shop.example.ro" in suspension_sms[0].body
    assert delivered_to(smtp_server, "Suspended: shop.example.ro") == [["owner@example.com"]]


def test_payment_receipt_goes_to_payment_subscribers_only(app, owner, smtp_server):
    add_trusted(app, owner.client_id, "pay@example.com", ["invoices.view"], ["payments"])
    add_trusted(app, owner.client_id, "inv@example.com", ["invoices.view"], ["invoices"])
    tax_number = pay(app, make_proforma(app, owner.client_id, 1000))
    receipts = emails(app, "payment_receipt")
    assert sorted(r.recipients[0] for r in receipts) == ["owner@example.com", "pay@example.com"]
    assert all(tax_number in r.subject and "/l/" in r.body_text for r in receipts)
    assert sorted(delivered_to(smtp_server, f"tax invoice {tax_number}")) == [
        ["owner@example.com"],
        ["pay@example.com"],
    ]


def test_a_trusted_user_without_the_permission_gets_no_invoice_email(app, owner):
    add_trusted(app, owner.client_id, "nope@example.com", ["services"], ["invoices", "payments"])
    make_proforma(app, owner.client_id, 1000)
    assert [e.recipients for e in emails(app, "proforma_issued")] == [["owner@example.com"]]


def test_each_reminder_stage_is_sent_once(app, owner):
    make_service(app, owner.client_id, due=RUN + timedelta(days=10))
    with app.app_context():
        run_billing(RUN)  # proforma due RUN + 10
        for day in range(0, 16):
            run_billing(RUN + timedelta(days=day))
            run_billing(RUN + timedelta(days=day))
    stages = [re.search(r"^(Reminder|Proforma|Overdue)", e.subject).group(1) for e in emails(app, "invoice_reminder")]
    assert stages == ["Reminder", "Proforma", "Overdue"]
