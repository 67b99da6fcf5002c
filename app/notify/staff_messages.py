"""Messages staff send to a client: from a template staff wrote, or free text, by email, SMS
or a notice on the user's dashboard (PortalNotice).

Staff-written text is a Jinja template, and whoever may edit templates is not whoever
may run code on the server: it renders in Jinja's immutable sandbox (no attribute that
starts with an underscore, no method that changes an object, no way to a Python
object's internals), with StrictUndefined, and is given plain strings only (PLACEHOLDERS),
never a model. The result goes through the outbox like every other message; in the HTML
part it is escaped text.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from app.audit.services import record
from app.clients.models import Client, User, UserStatus
from app.core.actors import Actor
from app.core.errors import ValidationError
from app.core.i18n import _, _l
from app.core.money import format_money
from app.core.types import utcnow
from app.core.urls import external_url
from app.extensions import db
from app.invoices.models import DocumentKind, Invoice, InvoiceStatus
from app.notify.email import queue_email
from app.notify.models import MessageChannel, MessageTemplate, PortalNotice, SmsMessage
from app.notify.sms import gsm7_segments, quiet_hours_delay, sms_allowed

#: What a template may use, with what it means (shown beside the template form).
PLACEHOLDERS: dict[str, str] = {
    "name": _l("The recipient's name"),
    "client_name": _l("The account's name (the company, for a company)"),
    "client_id": _l("The client ID"),
    "balance": _l("The account balance, with its currency"),
    "unpaid": _l("What the account owes on unpaid proformas"),
    "brand": _l("Our name"),
    "client_area_url": _l("The client area's address"),
}

SMS_MAX_CHARS = 640

_sandbox = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def render_text(source: str, values: dict[str, str], *, field: str = "body") -> str:
    """`source` rendered in the sandbox with `values`. Raises ValidationError (on `field`) for
    a template that does not parse, names an unknown placeholder or reaches for Python."""
    try:
        return _sandbox.from_string(source).render(**values)
    except SecurityError:
        raise ValidationError(_("This template tries to reach something it may not use."), field=field) from None
    except TemplateError as error:
        raise ValidationError(_("The template has an error: %(error)s.", error=error.message), field=field) from None


def sample_values() -> dict[str, str]:
    """Values to check a template with when it is saved."""
    return {
        "name": "Ana Popescu",
        "client_name": "Popescu Web SRL",
        "client_id": "1042",
        "balance": "€12.00",
        "unpaid": "€0.00",
        "brand": current_app.config["BRAND_NAME"],
        "client_area_url": external_url("dashboard.index"),
    }


def values_for(client: Client, user: User) -> dict[str, str]:
    """The placeholders' values for a message to `user` of `client` (plain strings only)."""
    unpaid = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Invoice.total_minor - Invoice.amount_paid_minor), 0)).where(
            Invoice.client_id == client.id,
            Invoice.kind == DocumentKind.PROFORMA,
            Invoice.status == InvoiceStatus.UNPAID,
        )
    )
    return {
        "name": user.name,
        "client_name": client.display_name,
        "client_id": str(client.id),
        "balance": format_money(client.balance_minor, client.currency),
        "unpaid": format_money(unpaid, client.currency),
        "brand": current_app.config["BRAND_NAME"],
        "client_area_url": external_url("dashboard.index"),
    }


def save_template(
    template: MessageTemplate | None, *, name: str, channel: MessageChannel, subject: str, body: str, actor: Actor
) -> MessageTemplate:
    """Create or update a template after checking it renders (sandbox, known placeholders only). Audited."""
    duplicate = db.session.scalar(sa.select(MessageTemplate.id).where(MessageTemplate.name == name))
    if duplicate is not None and (template is None or duplicate != template.id):
        raise ValidationError(_("A template with this name exists."), field="name")
    values = sample_values()
    if channel is not MessageChannel.SMS:
        if not subject.strip():
            raise ValidationError(_("Enter a subject."), field="subject")
        render_text(subject, values, field="subject")
    rendered = render_text(body, values)
    if channel is MessageChannel.SMS and len(rendered) > SMS_MAX_CHARS:
        raise ValidationError(_("An SMS can hold at most %(max)s characters.", max=SMS_MAX_CHARS), field="body")
    old = None if template is None else f"{template.name} ({template.channel.value})"
    if template is None:
        template = MessageTemplate(name=name, channel=channel, subject=subject, body=body)
        db.session.add(template)
    else:
        template.name, template.channel, template.subject, template.body = name, channel, subject, body
    template.updated_by = actor.id
    template.updated_at = utcnow()
    db.session.flush()
    action = "message_template.create" if old is None else "message_template.update"
    record(actor, action, target=f"message_template:{template.id}", old=old, new=f"{name} ({channel.value})")
    return template


@dataclass(frozen=True)
class StaffMessage:
    """What staff asked to send: a template, or a subject and text of their own."""

    channel: MessageChannel
    template: MessageTemplate | None = None
    subject: str = ""
    body: str = ""


def send_staff_message(client_id: int, user_id: int, message: StaffMessage, *, actor: Actor):
    """Write `message` to the outbox for user `user_id` of client `client_id` (sent after
    commit), audited `client.contact`. Returns the outbox row. Raises ValidationError
    when the user cannot get it (not this client's, suspended, no SMS opt-in...) or the
    text does not render."""
    user = db.session.get(User, user_id)
    client = db.session.get(Client, client_id)
    if user is None or client is None or user.client_id != client.id:
        raise ValidationError(_("Choose someone of this account."), field="user_id")
    if user.status is not UserStatus.ACTIVE:
        raise ValidationError(_("This user is suspended."), field="user_id")
    template = message.template
    if template is not None and template.channel is not message.channel:
        raise ValidationError(
            _("This template is for %(channel)s.", channel=template.channel.value), field="template_id"
        )
    subject_source = template.subject if template else message.subject
    body_source = template.body if template else message.body
    if not body_source.strip():
        raise ValidationError(_("Write the message, or choose a template."), field="body")
    values = values_for(client, user)
    body = render_text(body_source, values)
    if message.channel is not MessageChannel.SMS:
        if not subject_source.strip():
            raise ValidationError(_("Enter a subject."), field="subject")
        subject = " ".join(render_text(subject_source, values, field="subject").split())
    if message.channel is MessageChannel.EMAIL:
        row = queue_email("staff_message", to=user, client=client, message_subject=subject, message_body=body)
        what = f"email: {row.subject}"
    elif message.channel is MessageChannel.PORTAL:
        row = PortalNotice(client_id=client.id, user_id=user.id, subject=subject[:255], body=body, sent_by=actor.id)
        db.session.add(row)
        db.session.flush()
        what = f"portal: {row.subject}"
    else:
        row = _queue_staff_sms(client, user, body)
        what = f"sms: {body[:60]}"
    record(actor, "client.contact", client_id=client.id, target=f"user:{user.id}", new=what)
    return row


def _queue_staff_sms(client: Client, user: User, body: str) -> SmsMessage:
    if len(body) > SMS_MAX_CHARS:
        raise ValidationError(_("An SMS can hold at most %(max)s characters.", max=SMS_MAX_CHARS), field="body")
    now = utcnow()
    refused = sms_allowed(user, phone=user.phone, client_id=client.id, now=now)
    if refused is not None:
        raise ValidationError(
            _("No SMS can go to %(name)s: %(reason)s.", name=user.name, reason=refused), field="user_id"
        )
    config = current_app.config
    message = SmsMessage(
        client_id=client.id,
        user_id=user.id,
        event_key=f"staff:{now.timestamp():.6f}",
        phone=user.phone,
        sender=config["SMS_SENDER"][:11],
        body=body,
        segments=gsm7_segments(body),
        not_before=quiet_hours_delay(now, client.timezone, config["SMS_QUIET_START"], config["SMS_QUIET_END"]),
    )
    db.session.add(message)
    db.session.flush()
    return message


def unread_notices(user_id: int) -> list[PortalNotice]:
    """The staff notices `user_id` has not marked read, newest first."""
    return db.session.scalars(
        sa.select(PortalNotice)
        .where(PortalNotice.user_id == user_id, PortalNotice.read_at.is_(None))
        .order_by(PortalNotice.id.desc())
        .limit(20)
    ).all()


def mark_notice_read(user_id: int, notice_id: int) -> PortalNotice | None:
    """Mark `user_id`'s own notice read; None when it is not theirs (the view answers 404)."""
    notice = db.session.get(PortalNotice, notice_id)
    if notice is None or notice.user_id != user_id:
        return None
    if notice.read_at is None:
        notice.read_at = utcnow()
    return notice
