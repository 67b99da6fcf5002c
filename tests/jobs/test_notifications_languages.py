"""Emails and SMS are written in each recipient's language (catalog lookups, never hard-coded)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask_babel import force_locale, gettext

from app.billing.run import run_billing
from app.clients.models import User
from app.extensions import db
from app.notify.handlers import sms_text
from app.notify.sms import UCS2_PART, UCS2_SINGLE, fits_one_segment, gsm7_segments
from tests.helpers import make_service
from tests.support.config import NO_QUIET_HOURS
from tests.support.notifications import emails, sms
from tests.support.trusted import add_notified

RUN = date(2026, 12, 1)

pytestmark = [
    pytest.mark.app_config(**NO_QUIET_HOURS),
    pytest.mark.owner(phone="+40722123456", sms_opt_in=True),
]


def _set_language(app, user_id: int, language: str | None) -> None:
    with app.app_context():
        db.session.get(User, user_id).language = language
        db.session.commit()


def _catalog(app, language: str, message: str, **values) -> str:
    with app.test_request_context(), force_locale(language):
        return gettext(message, **values)


def test_an_email_to_a_romanian_user_is_in_romanian(app, owner):
    _set_language(app, owner.user_id, "ro")
    make_service(app, owner.client_id, due=RUN + timedelta(days=10))
    with app.app_context():
        run_billing(RUN)
    [email] = emails(app, "proforma_issued")
    with app.app_context():
        number = email.body_text.split("PF-")[1][:11]
    hello = _catalog(app, "ro", "Hello %(name)s,", name="")
    footer = _catalog(app, "ro", "You receive this email because you have an account with %(brand)s.", brand="")
    subject_start = _catalog(
        app, "ro", "Renewal proforma %(number)s: %(amount)s due %(due)s", number="", amount="", due=""
    )
    assert hello != "Hello ," and hello.strip(" ,") in email.body_text
    assert footer.strip(". ") in email.body_html
    assert subject_start.split(":")[0].strip() in email.subject and f"PF-{number}" in email.subject
    assert "Renewal proforma" not in email.subject and "Hello" not in email.body_text


def test_a_russian_trusted_user_gets_russian_and_the_owner_english(app, owner):
    trusted = add_notified(
        app, owner.client_id, "acct@example.com", ["invoices.view"], ["invoices"], "+40733123456", True
    )
    _set_language(app, trusted, "ru")
    make_service(app, owner.client_id, due=RUN + timedelta(days=10))
    with app.app_context():
        run_billing(RUN)
    by_user = {e.user_id: e for e in emails(app, "proforma_issued")}
    russian = _catalog(app, "ru", "See and pay proforma %(number)s (the link signs you in for 7 days):", number="X")
    assert russian != "See and pay proforma X (the link signs you in for 7 days):"
    assert russian.split("X")[0].strip() in by_user[trusted].body_text
    assert "See and pay proforma" in by_user[owner.user_id].body_text
    assert by_user[owner.user_id].subject.startswith("Renewal proforma")

    texts = {m.user_id: m for m in sms(app)}
    assert texts[owner.user_id].body.endswith("Please do not reply to this SMS.")
    ru_tail = _catalog(
        app,
        "ru",
        "%(brand)s: %(service)s was suspended. Details in your account. Please do not reply to this SMS.",
        brand="",
        service="",
    )
    assert ru_tail.split(".")[-2].strip() in texts[trusted].body  # the "do not reply" sentence
    body = texts[trusted].body
    assert gsm7_segments(body) == texts[trusted].segments == -(-len(body) // UCS2_PART) > 1, "UCS-2: 67 per part"


def test_ucs2_segments_and_the_shortening_of_a_russian_sms(app):
    assert gsm7_segments("я" * UCS2_SINGLE) == 1 and not fits_one_segment("я" * (UCS2_SINGLE + 1))
    assert gsm7_segments("я" * 134) == 2 and gsm7_segments("я" * 135) == 3
    long_name = "a-very-long-service-name-" * 4 + ".example.ru"
    with app.test_request_context(), force_locale("ru"):
        short = sms_text("suspended_no_invoice", service="x" * 20)
        text = sms_text("suspended_no_invoice", service=long_name)
    assert short != sms_text.__name__ and "x" * 20 in short
    # The long name is cut just as far as to take no more segments than with the shortest cut.
    assert gsm7_segments(text) == gsm7_segments(short) and long_name[:20] in text and long_name not in text
    with app.test_request_context(), force_locale("ro"):
        romanian = sms_text("renewal", number="PF-2026-000123", amount="1.234,56 RON", due="12.03.2026")
    assert fits_one_segment(romanian), "Romanian SMS stay GSM-7: one segment of 160"
