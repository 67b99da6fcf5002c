"""A sign-in refused by the IP allow-list: the visitor learns nothing, the user is told by email (once an hour)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from app.clients.models import Client, User
from app.extensions import db
from app.notify.models import EmailMessage
from app.security.models import LoginEvent
from tests.helpers import csrf_token

BLOCKED = "203.0.113.9"
WRONG = "The email or password is incorrect."


@pytest.fixture
def allowlisted_owner(app, owner):
    """The owner, allowed to sign in from 198.51.100.0/24 only, in New York."""
    account = owner
    with app.app_context():
        user = db.session.get(User, account.user_id)
        user.ip_allowlist = ["198.51.100.0/24"]
        user.login_alerts = False  # the refusal email goes whatever this says
        db.session.get(Client, account.client_id).timezone = "America/New_York"
        db.session.commit()
    return account


def sign_in_from(client, ip: str, email: str, password: str, agent: str = "Mozilla/5.0 Firefox/140.0"):
    token = csrf_token(client, "/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": ip},
        headers={"User-Agent": agent},
    )


def refusal_emails(app) -> list[EmailMessage]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(EmailMessage).where(EmailMessage.template == "blocked_sign_in").order_by(EmailMessage.id)
        ).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def test_the_visitor_is_told_the_password_is_wrong_and_the_user_gets_an_email(app, client, allowlisted_owner):
    assert WRONG in sign_in_from(client, BLOCKED, allowlisted_owner.email, "not-the-password").get_data(as_text=True)
    assert refusal_emails(app) == [], "a wrong password is just a wrong password"

    response = sign_in_from(client, BLOCKED, allowlisted_owner.email, allowlisted_owner.password)

    assert response.status_code == 422 and WRONG in response.get_data(as_text=True), "the same answer"
    assert client.get("/").status_code == 302, "not signed in"
    (email,) = refusal_emails(app)
    assert email.recipients == [allowlisted_owner.email]
    assert "blocked address was refused" in email.subject
    local = datetime.now(UTC).astimezone(ZoneInfo("America/New_York"))
    for text in (email.body_text, email.body_html):
        assert BLOCKED in text
        assert "Firefox" in text
        assert local.strftime("%d %B %Y") in text and local.strftime("%Z") in text, "the time in the client's zone"
        assert "correct password" in text
    with app.app_context():
        event = db.session.scalars(sa.select(LoginEvent).order_by(LoginEvent.id.desc())).first()
        assert (event.succeeded, event.reason, event.ip) == (False, "ip not allowed", BLOCKED)


def test_at_most_one_email_per_address_per_hour(app, client, allowlisted_owner):
    for _ in range(5):
        sign_in_from(client, BLOCKED, allowlisted_owner.email, allowlisted_owner.password)
    assert len(refusal_emails(app)) == 1, "five refusals from one address, one email"

    sign_in_from(client, "192.0.2.44", allowlisted_owner.email, allowlisted_owner.password)
    assert [BLOCKED in e.body_text for e in refusal_emails(app)] == [True, False], "another address: another email"

    with app.app_context():  # an hour passes
        for event in db.session.scalars(sa.select(LoginEvent)):
            event.created_at = event.created_at - timedelta(minutes=61)
        db.session.commit()
    sign_in_from(client, BLOCKED, allowlisted_owner.email, allowlisted_owner.password)
    assert len(refusal_emails(app)) == 3
    assert "at most once every 60 minutes" in refusal_emails(app)[-1].body_text


def test_an_allowed_address_signs_in_without_a_refusal_email(app, client, allowlisted_owner):
    response = sign_in_from(client, "198.51.100.7", allowlisted_owner.email, allowlisted_owner.password)
    assert response.status_code == 302 and response.location == "/"
    assert refusal_emails(app) == []
