"""Rendering emails into the outbox, and the backends that deliver them."""

from __future__ import annotations

import quopri
import sys
from email.header import Header
from email.message import EmailMessage as MimeMessage
from email.message import Message
from email.mime.multipart import MIMEMultipart
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


def build_mime(message: EmailMessage) -> Message:
    """The MIME message for an outbox row; its Message-ID is stable across retries.

    Built with the compat32 classes, which take a quarter of the time of the
    EmailMessage API (its header registry parses every header) for the same
    bytes on the wire: a text and an HTML alternative, raw UTF-8 (8bit) unless a
    line is too long for SMTP (quoted-printable then). A non-ASCII address needs
    SMTPUTF8, which only the EmailMessage API writes: such a message is built with it.
    """
    config = current_app.config
    host = config["PUBLIC_HOST"].split(":")[0]
    headers = {
        "From": config["MAIL_DEFAULT_SENDER"],
        "To": ", ".join(message.recipients),
        "Subject": message.subject,
        "Date": formatdate(localtime=False),
        "Message-ID": f"<outbox-{message.id}@{host}>",
    }
    if not (headers["From"].isascii() and headers["To"].isascii()):
        return _build_with_header_registry(headers, message)
    mime = MIMEMultipart("alternative")
    for name, value in headers.items():
        mime[name] = value if value.isascii() else Header(value, "utf-8")
    mime.attach(_text_part(message.body_text, "plain"))
    mime.attach(_text_part(message.body_html, "html"))
    return mime


_SMTP_LINE = 998  # octets, RFC 5321 4.5.3.1.6


def _text_part(text: str, subtype: str) -> Message:
    part = Message()
    part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
    data = text.encode("utf-8")
    if max(map(len, data.splitlines()), default=0) > _SMTP_LINE:
        part["Content-Transfer-Encoding"] = "quoted-printable"
        part.set_payload(quopri.encodestring(data).decode("ascii"))
    else:
        part["Content-Transfer-Encoding"] = "7bit" if text.isascii() else "8bit"
        part.set_payload(data.decode("ascii", "surrogateescape"))  # written back as the raw UTF-8 bytes
    return part


def _build_with_header_registry(headers: dict[str, str], message: EmailMessage) -> Message:
    mime = MimeMessage()
    for name, value in headers.items():
        mime[name] = value
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
