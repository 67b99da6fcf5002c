"""Notification helpers: outbox rows and what the archive and the outbox hold."""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.clients.models import User
from app.extensions import db
from app.notify.models import EmailMessage, SmsMessage


def make_email(app, client_id: int, user_id: int, subject: str, body_text: str = "Hello.", **fields) -> int:
    """An outbox row, as the notification handlers write it; returns its id."""
    with app.app_context():
        user = db.session.get(User, user_id)
        fields = {"template": "test", "body_html": f"<p style='color:red'>{subject}</p>", **fields}
        message = EmailMessage(
            client_id=client_id,
            user_id=user_id,
            recipients=[user.email],
            subject=subject,
            body_text=body_text,
            **fields,
        )
        db.session.add(message)
        db.session.commit()
        return message.id


def subjects(html: str) -> list[str]:
    """The subjects listed in the archive, in order."""
    return re.findall(r'<a class="strong" href="/account/notifications/\d+">([^<]+)</a>', html)


def emails(app, template: str) -> list[EmailMessage]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(EmailMessage).where(EmailMessage.template == template).order_by(EmailMessage.id)
        ).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def sms(app) -> list[SmsMessage]:
    with app.app_context():
        rows = db.session.scalars(sa.select(SmsMessage).order_by(SmsMessage.id)).all()
        for row in rows:
            db.session.expunge(row)
        return rows
