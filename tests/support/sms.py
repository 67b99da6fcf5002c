"""SMS helpers: a valid Romanian mobile number, SMS rows, the caps check."""

from __future__ import annotations

from app.clients.models import User
from app.core.types import utcnow
from app.extensions import db
from app.notify.models import SmsMessage
from app.notify.sms import (
    gsm7_segments,
    sms_allowed,
)

PHONE = "+40722123456"  # a valid Romanian mobile number


def add_sms(app, account, *, event_key="renewal:PF-1", phone=PHONE, body="Hello from Billfold", **fields) -> int:
    """Write an SMS row and commit (in-process, the commit runs the job at once)."""
    with app.app_context():
        message = SmsMessage(
            client_id=account.client_id,
            user_id=account.user_id,
            event_key=event_key,
            phone=phone,
            sender="Hostico",
            body=body,
            segments=gsm7_segments(body),
            **fields,
        )
        db.session.add(message)
        db.session.commit()
        return message.id


def allowed(app, account, phone=None, now=None):
    with app.app_context():
        user = db.session.get(User, account.user_id)
        return sms_allowed(user, phone=phone or user.phone, client_id=account.client_id, now=now or utcnow())
