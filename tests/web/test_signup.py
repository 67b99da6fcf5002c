"""Sign-up: validation beside each field, nothing half-written, the welcome email."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.clients.models import Client, User
from app.extensions import db
from app.notify.models import EmailMessage
from tests.helpers import count, csrf_from, make_owner
from tests.support.signup import GOOD, confirm_link, field_error, follow_confirm_link, post_register


def test_sign_up_creates_client_owner_and_logs_in(app, client):
    response = post_register(client)
    assert response.status_code == 302 and response.location == "/register/sent"
    assert count(app, User) == 0, "no account before the address is confirmed"

    response = follow_confirm_link(app, client)
    assert response.status_code == 302 and response.location == "/"

    page = client.get("/").get_data(as_text=True)
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "maria@example.com"))
        assert user is not None, "email is stored lower-cased"
        assert user.is_owner and user.phone == "+40722123456" and user.sms_opt_in
        assert user.client.kind.value == "person" and user.client.currency == "EUR"
        assert user.password_hash.startswith("$argon2id$")
        client_id = user.client_id
    assert f"Client ID {client_id}" in page
    assert "Hello, Maria" in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"email": ""}, "email", "Enter your email address."),
        ({"password": "short"}, "password", "Use at least 10 characters."),
        ({"phone": "12"}, "phone", "This is not a valid phone number."),
        ({"phone": "+40 123"}, "phone", "This is not a valid phone number."),
        ({"phone": "", "sms_opt_in": "y"}, "phone", "Enter a mobile number to receive SMS alerts."),
        ({"kind": "organization", "company_name": " "}, "company_name", "Enter the company name"),
        ({"name": ""}, "name", "Enter your full name."),
        ({"country": "XX"}, "country", "Not a valid choice."),
    ],
)
def test_bad_sign_up_shows_message_beside_field_and_commits_nothing(app, client, changes, field, message):
    response = post_register(client, **changes)

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in (field_error(html, field) or "")
    assert count(app, Client) == 0 and count(app, User) == 0 and count(app, EmailMessage) == 0


def test_duplicate_email_creates_nothing_whatever_its_case(app, client):
    """The page does not say so (tests/web/test_signup_enumeration.py): the owner is told by email."""
    make_owner(app, email="taken@example.com")

    response = post_register(client, email="TAKEN@example.com ")

    assert response.status_code == 302 and response.location == "/register/sent"
    assert count(app, Client) == 1
    assert count(app, EmailMessage, EmailMessage.template == "signup_existing") == 1
    assert count(app, EmailMessage, EmailMessage.template == "signup_confirm") == 0


def test_htmx_sign_up_error_returns_only_the_form(app, client):
    response = post_register(client, headers={"HX-Request": "true"}, password="short")

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert html.lstrip().startswith("<form") and "<html" not in html
    assert field_error(html, "password") == "Use at least 10 characters."


def test_htmx_sign_up_success_redirects_the_whole_page(app, client):
    response = post_register(client, headers={"HX-Request": "true"})

    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/register/sent"


def test_welcome_email_is_in_outbox_with_link_from_configured_host(app, client):
    """The Host header is the client's to forge; email links must ignore it."""
    evil = {"Host": "evil.example"}
    token = csrf_from(client.get("/register", headers=evil).get_data(as_text=True))
    response = client.post("/register", data={**GOOD, "csrf_token": token}, headers=evil)
    assert response.status_code == 302
    link = confirm_link(app)
    page = client.get(link, headers=evil).get_data(as_text=True)
    assert client.post(link, data={"csrf_token": csrf_from(page)}, headers=evil).location == "/"

    with app.app_context():
        message = db.session.scalar(sa.select(EmailMessage).where(EmailMessage.template == "welcome"))
        assert message.recipients == ["maria@example.com"]
        assert message.template == "welcome"
        assert message.status.value == "sent"  # console backend, in-process job
        assert "https://billing.example.test/login" in message.body_text
        assert "https://billing.example.test/login" in message.body_html
        assert "evil.example" not in message.body_text + message.body_html


def test_client_text_is_shown_literally(app, client):
    post_register(client, kind="organization", company_name="{{7*7}} <b>SRL</b>")
    follow_confirm_link(app, client)

    page = client.get("/").get_data(as_text=True)
    assert "{{7*7}} &lt;b&gt;SRL&lt;/b&gt;" in page
    with app.app_context():
        message = db.session.scalar(sa.select(EmailMessage).where(EmailMessage.template == "welcome"))
        assert "{{7*7}} <b>SRL</b>" in message.body_text
        assert "{{7*7}} &lt;b&gt;SRL&lt;/b&gt;" in message.body_html
