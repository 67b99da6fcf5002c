"""Billing events become emails and SMS for the right people, once."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from app.billing.run import run_billing
from app.extensions import db
from app.hosting.models import Service
from tests.helpers import make_owner, make_proforma, make_service, pay
from tests.support.config import NO_QUIET_HOURS
from tests.support.notifications import emails, sms
from tests.support.trusted import add_notified

RUN = date(2026, 12, 1)


pytestmark = [
    pytest.mark.app_config(smtp=True, **NO_QUIET_HOURS),
    # The owner has a mobile number and takes SMS.
    pytest.mark.owner(phone="+40722123456", sms_opt_in=True),
]


def delivered_to(smtp_server, subject_part: str) -> list[list[str]]:
    return [m.rcpt_tos for m in smtp_server.handler.messages if subject_part in m.content.decode()]


def test_renewal_proforma_emails_subscribers_and_texts_opted_in_users_once(app, owner, smtp_server):
    trusted_invoices = add_notified(app, owner.client_id, "acct@example.com", ["invoices.view"], ["invoices"])
    # Opted in to SMS, may see invoices, but takes no invoice emails: gets the SMS only.
    add_notified(
        app,
        owner.client_id,
        "tech@example.com",
        ["services", "invoices.view"],
        ["service_status"],
        "+40733123456",
        True,
    )
    # Opted in to SMS but may not see invoices: no renewal SMS.
    add_notified(app, owner.client_id, "ops@example.com", ["services"], [], "+40744123456", True)
    add_notified(app, owner.client_id, "nosub@example.com", ["invoices.view"], [])
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
    add_notified(app, owner.client_id, "pay@example.com", ["invoices.view"], ["payments"])
    add_notified(app, owner.client_id, "inv@example.com", ["invoices.view"], ["invoices"])
    tax_number = pay(app, make_proforma(app, owner.client_id, 1000))
    receipts = emails(app, "payment_receipt")
    assert sorted(r.recipients[0] for r in receipts) == ["owner@example.com", "pay@example.com"]
    assert all(tax_number in r.subject and "/l/" in r.body_text for r in receipts)
    assert sorted(delivered_to(smtp_server, f"tax invoice {tax_number}")) == [
        ["owner@example.com"],
        ["pay@example.com"],
    ]


def test_a_trusted_user_without_the_permission_gets_no_invoice_email(app, owner):
    add_notified(app, owner.client_id, "nope@example.com", ["services"], ["invoices", "payments"])
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
