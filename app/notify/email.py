"""Rendering emails into the outbox, and the backends that deliver them."""

from __future__ import annotations

import sys
from email.message import EmailMessage as MimeMessage
from email.utils import formatdate
from typing import TYPE_CHECKING

from flask import current_app, render_template

from app.core.i18n import in_language, recipient_language
from app.extensions import db
from app.notify.models import EmailMessage
from app.notify.smtp import connection

if TYPE_CHECKING:
    from app.clients.models import Client, User
    from app.invoices.models import Invoice
    from app.staff.models import Staff


def queue_email(
    template: str,
    *,
    to: User,
    client: Client | None = None,
    address: str | None = None,
    flush: bool = True,
    pay_invoice: Invoice | None = None,
    **context,
) -> EmailMessage:
    """Render `template` for `to` and add it to the outbox (flushes, never commits).

    Each email is three templates: emails/<name>.subject.txt, <name>.txt and
    <name>.html. `address` sends to another address than the user's (an email
    change). `pay_invoice`: the proforma the email asks to pay; if it is paid
    before the email goes out, the email is cancelled. The message is sent by a
    job once the caller's transaction commits.
    """
    context = {"brand": current_app.config["BRAND_NAME"], "user": to, "client": client, **context}
    with in_language(recipient_language(to, client)):  # each recipient reads their own
        subject, body_text, body_html = _render(template, context)
    message = EmailMessage(
        client_id=client.id if client else None,
        user_id=to.id,
        recipients=[address or to.email],
        template=template,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        pay_invoice_id=pay_invoice.id if pay_invoice is not None else None,
    )
    db.session.add(message)
    if flush:  # batch writers pass flush=False and flush once (one INSERT for all)
        db.session.flush()
    return message


def queue_staff_email(template: str, *, to: Staff, **context) -> EmailMessage:
    """Render `template` for staff member `to` and add it to the outbox (flushes, never
    commits): like queue_email, but the row names no client user (staff are not users)."""
    context = {"brand": current_app.config["BRAND_NAME"], "user": to, "client": None, **context}
    with in_language(recipient_language(to)):
        subject, body_text, body_html = _render(template, context)
    message = EmailMessage(
        recipients=[to.email], template=template, subject=subject, body_text=body_text, body_html=body_html
    )
    db.session.add(message)
    db.session.flush()
    return message


def _render(template: str, context: dict) -> tuple[str, str, str]:
    """The subject (on one line), text and HTML of email `template`."""
    subject = " ".join(render_template(f"emails/{template}.subject.txt", **context).split())
    return (
        subject,
        render_template(f"emails/{template}.txt", **context),
        render_template(f"emails/{template}.html", subject=subject, **context),
    )


def build_mime(message: EmailMessage) -> MimeMessage:
    """The MIME message for an outbox row; its Message-ID is stable across retries."""
    config = current_app.config
    mime = MimeMessage()
    mime["From"] = config["MAIL_DEFAULT_SENDER"]
    mime["To"] = ", ".join(message.recipients)
    mime["Subject"] = message.subject
    mime["Date"] = formatdate(localtime=False)
    host = config["PUBLIC_HOST"].split(":")[0]
    mime["Message-ID"] = f"<outbox-{message.id}@{host}>"
    mime.set_content(message.body_text)
    mime.add_alternative(message.body_html, subtype="html")
    return mime


def send_console(message: EmailMessage) -> None:
    """Development backend: print the message instead of sending it."""
    print(
        f"--- email #{message.id} to {', '.join(message.recipients)}\n"
        f"Subject: {message.subject}\n\n{message.body_text}\n--- end of email #{message.id}",
        file=sys.stdout,
        flush=True,
    )


def send_smtp(message: EmailMessage) -> None:
    """Send through the configured SMTP server, on this worker's reused connection. Raises on any failure."""
    connection().send(build_mime(message), current_app.config)


BACKENDS = {"console": send_console, "smtp": send_smtp}


def deliver(message: EmailMessage) -> None:
    backend = current_app.config["MAIL_BACKEND"]
    try:
        send = BACKENDS[backend]
    except KeyError:
        raise RuntimeError(f"MAIL_BACKEND must be one of {', '.join(BACKENDS)}, not {backend!r}") from None
    send(message)
