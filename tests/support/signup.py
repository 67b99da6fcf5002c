"""Sign-up helpers: the register form, the confirmation link and following it."""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.extensions import db
from app.notify.models import EmailMessage
from tests.helpers import csrf_token

GOOD = {
    "name": "Maria Ionescu",
    "email": "Maria@Example.com",
    "password": "a-long-password",
    "kind": "person",
    "company_name": "",
    "country": "RO",
    "phone": "0722 123 456",
    "sms_opt_in": "y",
}


def post_register(client, headers=None, **changes):
    data = {**GOOD, **changes, "csrf_token": csrf_token(client, "/register")}
    return client.post("/register", data=data, headers=headers or {})


def confirm_link(app, address: str = "maria@example.com") -> str:
    """The path of the link in the confirmation email sent to `address`."""
    with app.app_context():
        message = db.session.scalar(
            sa.select(EmailMessage).where(EmailMessage.template == "signup_confirm").order_by(EmailMessage.id.desc())
        )
        assert message is not None and message.recipients == [address]
    return re.search(r"https://billing\.example\.test(/register/confirm/\S+)", message.body_text).group(1)


def follow_confirm_link(app, client, address: str = "maria@example.com"):
    """Open the confirmation link and press the button, as the new client does."""
    link = confirm_link(app, address)
    return client.post(link, data={"csrf_token": csrf_token(client, link)})


def field_error(html: str, field: str) -> str | None:
    """The error message shown right under `field`, if any."""
    match = re.search(rf'id="{field}-msg">\s*<p class="error">([^<]+)</p>', html)
    return match.group(1) if match else None
