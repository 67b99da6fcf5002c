"""Termination is announced: a last warning before it, a notice when it happens, each
once per service and due date; a run catching up on missed days writes its notices
in the order of the events and never warns of what already happened."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.billing.run import run_billing
from app.extensions import db
from app.hosting.models import Service, ServiceStatus
from app.notify.models import EmailMessage, SmsMessage
from tests.helpers import make_service
from tests.support.config import NO_QUIET_HOURS

RUN = date(2026, 12, 1)  # suspend 5 days after due, terminate 30 after, warn 3 before that


pytestmark = [
    pytest.mark.app_config(**NO_QUIET_HOURS, TERMINATION_WARNING_DAYS=3),
    # The owner has a mobile number and takes SMS.
    pytest.mark.owner(phone="+40722123456", sms_opt_in=True),
]


def outbox(app) -> list[tuple[str, str]]:
    """(template, subject) of every email, in outbox order."""
    with app.app_context():
        return [
            tuple(row)
            for row in db.session.execute(
                sa.select(EmailMessage.template, EmailMessage.subject)
                .where(EmailMessage.template != "welcome")
                .order_by(EmailMessage.id)
            )
        ]


def sms_bodies(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(SmsMessage.body).order_by(SmsMessage.id)))


def run(app, day: date) -> None:
    with app.app_context():
        run_billing(day)


def status(app, service_id: int) -> ServiceStatus:
    with app.app_context():
        return db.session.get(Service, service_id).status


def test_a_catch_up_run_long_after_due_suspends_then_terminates_in_that_order(app, owner):
    service = make_service(app, owner.client_id, due=RUN - timedelta(days=40), label="forgotten.ro")
    run(app, RUN)  # nothing ran for the 40 days since the due date

    assert status(app, service) is ServiceStatus.TERMINATED
    sent = outbox(app)
    assert [template for template, _ in sent] == ["service_suspended", "service_terminated"]
    assert sent[1][1] == "Terminated: forgotten.ro"
    assert sms_bodies(app) == []  # the suspension was over before it could be read; termination is email only

    run(app, RUN)  # safe to re-run
    run(app, RUN + timedelta(days=1))
    assert outbox(app) == sent


def test_a_catch_up_run_before_termination_warns_after_the_suspension_and_sends_no_stale_reminder(app, owner):
    service = make_service(app, owner.client_id, due=RUN - timedelta(days=28), label="late.ro")
    run(app, RUN)

    assert status(app, service) is ServiceStatus.SUSPENDED
    templates = [template for template, _ in outbox(app)]
    # The renewal proforma, then its suspension, then the last warning; no "will be suspended" reminder.
    assert templates == ["proforma_issued", "service_suspended", "service_termination_warning"]
    warning = outbox(app)[2][1]
    assert warning == "Last warning: late.ro will be terminated on 03 December 2026"
    assert len(sms_bodies(app)) == 2  # the renewal and the suspension, never the warning

    run(app, RUN)
    run(app, RUN + timedelta(days=1))
    assert [template for template, _ in outbox(app)] == templates  # each stage once

    run(app, RUN + timedelta(days=2))  # the termination day
    assert status(app, service) is ServiceStatus.TERMINATED
    assert [template for template, _ in outbox(app)] == [*templates, "service_terminated"]
    assert len(sms_bodies(app)) == 2


def test_the_warning_goes_on_its_day_names_the_proforma_and_each_stage_goes_once(app, owner):
    service = make_service(app, owner.client_id, due=RUN - timedelta(days=20), label="site.ro")
    run(app, RUN - timedelta(days=34))  # renewal proforma (14 days before due)
    run(app, RUN - timedelta(days=15))  # suspended (5 days after due)
    before = len(outbox(app))
    run(app, RUN + timedelta(days=6))  # 26 days after due: not yet
    assert len(outbox(app)) == before

    run(app, RUN + timedelta(days=7))  # 27 days after due: 3 days before termination
    with app.app_context():
        [warning] = db.session.scalars(
            sa.select(EmailMessage).where(EmailMessage.template == "service_termination_warning")
        ).all()
        assert "will be terminated and its data deleted" in warning.body_text
        assert "Pay proforma PF-" in warning.body_text and warning.pay_invoice_id is not None
    run(app, RUN + timedelta(days=7))
    run(app, RUN + timedelta(days=8))
    assert [t for t, _ in outbox(app)].count("service_termination_warning") == 1

    run(app, RUN + timedelta(days=10))
    assert status(app, service) is ServiceStatus.TERMINATED
    assert [t for t, _ in outbox(app)].count("service_terminated") == 1
    run(app, RUN + timedelta(days=10))
    assert [t for t, _ in outbox(app)].count("service_terminated") == 1


def test_the_owner_is_told_of_termination_even_when_unsubscribed_from_service_status(app, owner):
    from app.clients.models import User

    with app.app_context():
        db.session.get(User, owner.user_id).notification_types = ["invoices"]
        db.session.commit()
    make_service(app, owner.client_id, due=RUN - timedelta(days=40), status="suspended", label="quiet.ro")
    run(app, RUN)
    assert [t for t, _ in outbox(app)] == ["service_terminated"]
