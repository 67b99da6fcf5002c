"""Login links in emails: the path an email gives, whose session a browser has."""

from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa

from app.clients.models import User
from app.extensions import db
from app.invoices.models import Invoice
from app.notify.links import invoice_login_url


def link_path(app, user_id: int, number: str) -> str:
    """The path of the login link an email gives `user_id` for invoice `number`."""
    with app.app_context(), app.test_request_context():
        user = db.session.get(User, user_id)
        invoice = db.session.scalar(sa.select(Invoice).where(Invoice.number == number))
        url = invoice_login_url(user, invoice)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("https", "billing.example.test"), "built from the public host"
    assert parts.path.startswith("/l/") and not parts.query
    return parts.path


def signed_in_id(client) -> int | None:
    """The user id of the browser's session, or None."""
    with client.session_transaction() as session:
        identity = session.get("_user_id")
    return int(identity.split(":")[1]) if identity else None
