"""Security-page helpers: forms of the security page, the last email of a kind, turning on 2FA."""

from __future__ import annotations

import re

import pyotp
import sqlalchemy as sa

from app.clients.models import User
from app.extensions import db
from app.notify.models import EmailMessage
from tests.helpers import csrf_from, csrf_token, wrong_totp


def user_row(app, user_id: int) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def post_form(client, page: str, action: str, **data):
    return client.post(action, data={"csrf_token": csrf_token(client, page), **data})


def last_email(app, template: str) -> EmailMessage:
    with app.app_context():
        message = db.session.scalars(
            sa.select(EmailMessage).where(EmailMessage.template == template).order_by(EmailMessage.id.desc())
        ).first()
        db.session.expunge(message)
        return message


def enable_2fa(app, client) -> str:
    page = client.get("/account/security/2fa").get_data(as_text=True)
    assert "<svg" in page, "the QR code is inline SVG"
    secret = re.search(r'<span class="mono secret">([A-Z2-7]+)</span>', page).group(1)
    wrong = client.post(
        "/account/security/2fa", data={"csrf_token": csrf_from(page), "code": wrong_totp(secret)}
    ).get_data(as_text=True)
    assert "That code is not right" in wrong, wrong
    done = client.post(
        "/account/security/2fa", data={"csrf_token": csrf_from(page), "code": pyotp.TOTP(secret).now()}
    ).get_data(as_text=True)
    codes = re.findall(r"<li>([0-9a-f]{5}-[0-9a-f]{5})</li>", done)
    assert len(codes) == 10
    return secret, codes
