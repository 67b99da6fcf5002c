"""A client's own automation switches (the profile's Settings tab): each turns off one thing
the billing run does for that client only, and the others keep their default."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.billing.run import run_billing
from app.clients.models import Client
from app.extensions import db
from app.hosting.models import Service
from tests.helpers import make_owner, make_service
from tests.support.config import NO_QUIET_HOURS
from tests.support.notifications import emails, sms

RUN = date(2026, 12, 1)
PHONE_B = "+40733123456"


@pytest.fixture
def app_overrides():
    return NO_QUIET_HOURS


@pytest.fixture
def two_clients(app):
    """Two clients alike, opted in to SMS; staff turn something off for `off` only."""
    on = make_owner(app, email="on@example.com", phone="+40722123456", sms_opt_in=True)
    off = make_owner(app, email="off@example.com", phone=PHONE_B, sms_opt_in=True)
    return on, off


def _set(app, client_id, **settings):
    with app.app_context():
        client = db.session.get(Client, client_id)
        for name, value in settings.items():
            setattr(client, name, value)
        db.session.commit()


def test_auto_suspend_off_leaves_an_overdue_service_running(app, two_clients):
    on, off = two_clients
    _set(app, off.client_id, auto_suspend=False)
    late_on = make_service(app, on.client_id, due=RUN - timedelta(days=5), label="on.example")
    late_off = make_service(app, off.client_id, due=RUN - timedelta(days=40), label="off.example")
    with app.app_context():
        run_billing(RUN)
        assert db.session.get(Service, late_on).status.value == "suspended"
        assert db.session.get(Service, late_off).status.value == "active"  # not suspended, so never terminated


def test_reminders_off_sends_no_payment_reminder(app, two_clients):
    off = two_clients[1]
    _set(app, off.client_id, send_reminders=False)
    for account in two_clients:
        make_service(app, account.client_id, due=RUN + timedelta(days=10), label=f"{account.email}.example")
    with app.app_context():
        for day in range(0, 12):
            run_billing(RUN + timedelta(days=day))
    reminded = {e.recipients[0] for e in emails(app, "invoice_reminder")}
    assert reminded == {"on@example.com"}
    assert {e.recipients[0] for e in emails(app, "proforma_issued")} == {"on@example.com", "off@example.com"}


def test_sms_off_sends_emails_but_no_sms(app, two_clients):
    off = two_clients[1]
    _set(app, off.client_id, send_sms=False)
    for account in two_clients:
        make_service(app, account.client_id, due=RUN + timedelta(days=10), label=f"{account.email}.example")
    with app.app_context():
        run_billing(RUN)
    assert [m.phone for m in sms(app)] == ["+40722123456"]
    assert len(emails(app, "proforma_issued")) == 2
