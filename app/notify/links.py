"""Login links in emails: /l/<token> signs a user into one invoice for 7 days."""

from __future__ import annotations

import hmac

from flask import current_app

from app.clients.models import User
from app.core.signing import InvalidToken, sign, unsign
from app.core.urls import external_url
from app.extensions import db
from app.invoices.models import Invoice

SALT = "invoice-login"


def invoice_login_url(user, invoice) -> str:
    """The absolute link an email puts on an invoice number, for this recipient."""
    token = sign({"u": user.id, "i": invoice.id, "s": user.security_stamp}, salt=SALT)
    return external_url("auth.mail_link", token=token)


def read_invoice_login(token: str):
    """(user, invoice) of a valid link. Raises InvalidToken (expired, forged, or its
    user's security stamp changed: password, 2FA or email change, staff reset)."""

    payload = unsign(token, salt=SALT, max_age=current_app.config["LOGIN_LINK_MAX_AGE"])
    if not isinstance(payload, dict):
        raise InvalidToken()
    user = db.session.get(User, payload.get("u") or 0)
    invoice = db.session.get(Invoice, payload.get("i") or 0)
    if (
        user is None
        or invoice is None
        or invoice.client_id != user.client_id
        or not user.is_active
        or not hmac.compare_digest(user.security_stamp, str(payload.get("s")))
    ):
        raise InvalidToken()
    return user, invoice
