"""An SMS opt-in with a number SMS cannot reach (its country is not in SMS_COUNTRIES)
is refused when saved, with the reason beside the SMS checkbox; the number may be
kept without SMS."""

from __future__ import annotations

from app.clients.models import User
from app.extensions import db
from tests.support.details import PERSON_FORM, error_beside, post_details
from tests.support.signup import field_error, follow_confirm_link, post_register

SWISS_MOBILE = "+41 78 123 45 67"  # a valid number; CH is not in the default SMS_COUNTRIES
REFUSED = "We cannot send SMS to numbers in Switzerland. Untick SMS alerts to keep this number without them"


def test_my_details_refuse_an_sms_opt_in_the_country_cannot_get(app, client, owner):
    from tests.helpers import login

    login(client)
    response = post_details(client, PERSON_FORM, phone=SWISS_MOBILE, sms_opt_in="y")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert error_beside(html, "sms_opt_in").startswith(REFUSED)
    assert "Romania" in error_beside(html, "sms_opt_in")
    assert error_beside(html, "phone") is None and "+41781234567" in html  # the number stays in the form
    with app.app_context():
        user = db.session.get(User, owner.user_id)
        assert (user.phone, user.sms_opt_in) == (None, False)  # nothing changed

    kept = post_details(client, PERSON_FORM, phone=SWISS_MOBILE)  # the number without SMS is fine
    assert kept.status_code in (200, 302)
    with app.app_context():
        user = db.session.get(User, owner.user_id)
        assert (user.phone, user.sms_opt_in) == ("+41781234567", False)


def test_sign_up_refuses_an_sms_opt_in_the_country_cannot_get(app, client):
    response = post_register(client, phone=SWISS_MOBILE, country="CH")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(html, "sms_opt_in").startswith(REFUSED)
    assert field_error(html, "phone") is None
    with app.app_context():
        assert db.session.query(User).count() == 0

    assert post_register(client, phone=SWISS_MOBILE, country="CH", sms_opt_in="").status_code == 302
    follow_confirm_link(app, client)  # the account is made from the emailed link
    with app.app_context():
        user = db.session.query(User).one()
        assert (user.phone, user.sms_opt_in) == ("+41781234567", False)


def test_a_reachable_number_is_accepted(app, client):
    assert post_register(client).status_code == 302
    follow_confirm_link(app, client)
    with app.app_context():
        assert db.session.query(User).one().sms_opt_in is True
