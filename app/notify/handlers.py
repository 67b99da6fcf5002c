"""Who hears about what: domain events become outbox emails and SMS.

Handlers run inside the transaction that emitted the event, so a message is
written if and only if its event commits. They work on whole batches (the
billing run emits one event per batch of proformas).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import sqlalchemy as sa
from flask import Flask, current_app
from flask_babel import LazyString
from sqlalchemy.orm import selectinload

from app.access.policy import can, who_may
from app.clients.models import Client, User, UserStatus
from app.core.events import subscribe
from app.core.i18n import _l, in_language, recipient_language
from app.core.money import format_money
from app.core.sql import add_days
from app.core.types import utcnow
from app.core.urls import external_url
from app.extensions import db
from app.hosting.models import Service, ServiceStatus
from app.invoices.models import DocumentKind, Invoice, InvoiceLine, InvoiceStatus
from app.notify.email import queue_email
from app.notify.links import invoice_login_url
from app.notify.models import InvoiceReminder, ServiceNotice, SmsMessage
from app.notify.pending import deferrable
from app.notify.sms import fits_one_segment, gsm7_segments, quiet_hours_delay, sms_allowed
from app.wallet.models import BankTransfer, LedgerEntry, Payment, TransferStatus

#: Which notification type each email belongs to, and the permission a trusted user needs to get it.
EMAIL_TYPES = {
    "proforma_issued": ("invoices", "invoices.view"),
    "invoice_reminder": ("invoices", "invoices.view"),
    "payment_receipt": ("payments", "invoices.view"),
    "service_suspended": ("service_status", "services"),
    "service_termination_warning": ("service_status", "services"),
    "service_terminated": ("service_status", "services"),
    "top_up_receipt": ("payments", "wallet"),
    "bank_transfer_credited": ("payments", "wallet"),
    "bank_transfer_rejected": ("payments", "wallet"),
}

#: Emails the owner gets whatever their subscriptions: the service's data is about to be, or is being, deleted.
OWNER_ALWAYS = {"service_termination_warning", "service_terminated"}


def recipients(users: list[User], template: str) -> list[User]:
    """The users of a client who get this email: subscribed to its type and, for
    trusted users, allowed to see what it is about."""
    kind, permission = EMAIL_TYPES[template]
    return [
        u
        for u in users
        if u.status is UserStatus.ACTIVE
        and (kind in (u.notification_types or []) or (u.is_owner and template in OWNER_ALWAYS))
        and can(u, permission)
    ]


def _users_by_client(client_ids) -> dict[int, list[User]]:
    users = db.session.scalars(sa.select(User).where(User.client_id.in_(set(client_ids))).order_by(User.id)).all()
    grouped: dict[int, list[User]] = defaultdict(list)
    for user in users:
        grouped[user.client_id].append(user)
    return grouped


def _clients(ids) -> dict[int, Client]:
    return {c.id: c for c in db.session.scalars(sa.select(Client).where(Client.id.in_(set(ids))))}


def _amount(minor: int, currency: str) -> LazyString:
    """Money formatted when rendered: in each recipient's language, not the request's."""
    return LazyString(format_money, minor, currency)


def _money(invoice: Invoice) -> LazyString:
    return _amount(invoice.balance_due_minor or invoice.total_minor, invoice.currency)


# --- SMS ----------------------------------------------------------------------------------

#: The SMS texts, rendered in each recipient's language (sms_text, inside in_language).
SMS_TEXTS = {
    # Translators: an SMS. Romanian: write it WITHOUT diacritics (a s t i, not ă ș ț î), so it stays
    # GSM-7: one SMS of 160 characters. %(brand)s is the sender's name. Keep it short.
    "renewal": _l(
        "%(brand)s: proforma %(number)s of %(amount)s is due on %(due)s. Details by email and in your account. "
        "Please do not reply to this SMS."
    ),
    # Translators: an SMS. Romanian: WITHOUT diacritics (GSM-7: one SMS of 160 characters).
    # %(service)s is a domain or a service's label.
    "suspended": _l(
        "%(brand)s: %(service)s was suspended. Pay proforma %(number)s to reactivate it. "
        "Please do not reply to this SMS."
    ),
    # For a user who may not see invoices: no invoice number.
    # Translators: an SMS. Romanian: WITHOUT diacritics (GSM-7: one SMS of 160 characters).
    "suspended_no_invoice": _l(
        "%(brand)s: %(service)s was suspended. Details in your account. Please do not reply to this SMS."
    ),
}

#: The shortest a service's name is cut to so that an SMS takes fewer segments.
SMS_SERVICE_MIN = 20


def sms_text(kind: str, **values) -> str:
    """The SMS in the language being rendered (call it inside `in_language`), in as few
    segments as it can: a long service name is cut (never below SMS_SERVICE_MIN characters)
    until the text fits one segment (160 GSM-7 characters, or 70 UCS-2 ones for Russian or
    Hindi), or at least takes no more segments than with the name cut shortest."""

    template = str(SMS_TEXTS[kind])
    values = {"brand": current_app.config["SMS_SENDER"], **values}
    text = template % values
    service = values.get("service")
    if fits_one_segment(text) or not service or len(service) <= SMS_SERVICE_MIN:
        return text
    best = gsm7_segments(template % {**values, "service": service[:SMS_SERVICE_MIN]})
    length = len(service)
    while length > SMS_SERVICE_MIN and gsm7_segments(text) > best:
        length -= 1
        text = template % {**values, "service": service[:length]}
    return text


def queue_sms(user: User, client: Client, *, kind: str, event_key: str, **values) -> SmsMessage | None:
    """An SMS row for an opted-in user, unless a limit refuses it or it was already written."""

    if not (user.sms_opt_in and user.phone and user.status is UserStatus.ACTIVE):
        return None
    now = utcnow()
    if sms_allowed(user, phone=user.phone, client_id=client.id, now=now) is not None:
        return None
    exists = db.session.scalar(
        sa.select(SmsMessage.id).where(SmsMessage.user_id == user.id, SmsMessage.event_key == event_key)
    )
    if exists:
        return None
    config = current_app.config
    with in_language(recipient_language(user, client)):  # each recipient reads their own
        body = sms_text(kind, **values)
    message = SmsMessage(
        client_id=client.id,
        user_id=user.id,
        event_key=event_key,
        phone=user.phone,
        sender=config["SMS_SENDER"][:11],
        body=body,
        segments=gsm7_segments(body),
        not_before=quiet_hours_delay(now, client.timezone, config["SMS_QUIET_START"], config["SMS_QUIET_END"]),
    )
    db.session.add(message)
    return message


# --- handlers ----------------------------------------------------------------------------------


def on_proformas_issued(sender, *, proforma_ids: list[int], origin: str) -> None:
    # Users first: only the proformas someone is told of are loaded with their lines.
    users = _users_by_client(
        db.session.scalars(sa.select(Invoice.client_id).where(Invoice.id.in_(proforma_ids)).distinct())
    )
    told = [
        client_id
        for client_id, its_users in users.items()
        if recipients(its_users, "proforma_issued") or (origin == "renewal" and who_may(its_users, "invoices.view"))
    ]
    proformas = db.session.scalars(
        sa.select(Invoice)
        .where(Invoice.id.in_(proforma_ids), Invoice.client_id.in_(told))
        .options(selectinload(Invoice.lines))
        .order_by(Invoice.id)
    ).all()
    clients = _clients(p.client_id for p in proformas)
    for proforma in proformas:
        client = clients[proforma.client_id]
        for user in recipients(users[client.id], "proforma_issued"):
            queue_email(
                "proforma_issued",
                to=user,
                client=client,
                flush=False,
                invoice=proforma,
                pay_invoice=proforma,
                origin=origin,
                amount=_money(proforma),
                invoice_url=invoice_login_url(user, proforma),
            )
        if origin == "renewal":  # SMS only for what the system generated, never for an order
            for user in who_may(users[client.id], "invoices.view"):
                queue_sms(
                    user,
                    client,
                    kind="renewal",
                    event_key=f"renewal:{proforma.number}",
                    number=proforma.number,
                    amount=_money(proforma),
                    due=proforma.due_date.strftime("%d.%m.%Y"),
                )
    db.session.flush()


def on_invoice_paid(sender, *, proforma_id: int, tax_invoice_id: int) -> None:
    tax_invoice = db.session.get(Invoice, tax_invoice_id)
    client = db.session.get(Client, tax_invoice.client_id)
    for user in recipients(_users_by_client([client.id])[client.id], "payment_receipt"):
        queue_email(
            "payment_receipt",
            to=user,
            client=client,
            invoice=tax_invoice,
            amount=_amount(tax_invoice.total_minor, tax_invoice.currency),
            invoice_url=invoice_login_url(user, tax_invoice),
        )


def on_services_suspended(sender, *, service_ids: list[int], reason: str, terminating: bool = False) -> None:
    """Email (and SMS) each suspension. `terminating`: a catch-up run suspends services
    it terminates right after; their notice names no proforma to pay (it is cancelled
    with the termination) and no SMS goes (it would be stale before it could be read)."""

    services = db.session.scalars(sa.select(Service).where(Service.id.in_(service_ids)).order_by(Service.id)).all()
    open_proformas = dict(
        db.session.execute(
            sa.select(InvoiceLine.service_id, sa.func.max(Invoice.id))
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(
                InvoiceLine.service_id.in_(service_ids),
                Invoice.kind == DocumentKind.PROFORMA,
                Invoice.status == InvoiceStatus.UNPAID,
            )
            .group_by(InvoiceLine.service_id)
        ).all()
    )
    clients = _clients(s.client_id for s in services)
    users = _users_by_client(clients)
    proformas = {
        p.id: p for p in db.session.scalars(sa.select(Invoice).where(Invoice.id.in_(set(open_proformas.values()))))
    }
    for service in services:
        client = clients[service.client_id]
        proforma = None if terminating else proformas.get(open_proformas.get(service.id))
        for user in recipients(users[client.id], "service_suspended"):
            # The invoice (number, amount, sign-in link) only for who may see invoices.
            invoice = proforma if can(user, "invoices.view") else None
            queue_email(
                "service_suspended",
                to=user,
                client=client,
                flush=False,
                service=service,
                reason=reason,
                invoice=invoice,
                pay_invoice=invoice,
                amount=_money(invoice) if invoice else None,
                invoice_url=invoice_login_url(user, invoice) if invoice else external_url("auth.login"),
            )
        if terminating:
            continue
        for user in who_may(users[client.id], "services"):  # SMS for a suspension whatever its reason
            invoice = proforma if can(user, "invoices.view") else None
            queue_sms(
                user,
                client,
                kind="suspended" if invoice else "suspended_no_invoice",
                event_key=f"suspended:{service.id}:{service.suspended_on}",
                service=service.label,
                number=invoice.number if invoice else "-",
            )
    db.session.flush()


# --- termination --------------------------------------------------------------------------------


def _noticed(service_ids, stage: str) -> set[tuple[int, date]]:
    """(service id, due date) pairs that already got the notice `stage`."""
    rows = db.session.execute(
        sa.select(ServiceNotice.service_id, ServiceNotice.due_date).where(
            ServiceNotice.service_id.in_(list(service_ids)), ServiceNotice.stage == stage
        )
    ).all()
    return {tuple(row) for row in rows}


def _queue_service_notices(services, stage: str, template: str, **context_for) -> int:
    """Write `template` once per service and due date (a ServiceNotice marks it). Returns how many services got it."""
    done = _noticed((s.id for s in services), stage)
    todo = [s for s in services if (s.id, s.next_due_date) not in done]
    clients = _clients(s.client_id for s in todo)
    users = _users_by_client(clients)
    for service in todo:
        db.session.add(ServiceNotice(service_id=service.id, due_date=service.next_due_date, stage=stage))
        client = clients[service.client_id]
        for user in recipients(users[client.id], template):
            context = {key: make(service, user) for key, make in context_for.items()}
            queue_email(template, to=user, client=client, flush=False, service=service, **context)
    db.session.flush()
    return len(todo)


def _renewal_proformas(service_ids) -> dict[int, Invoice]:
    """The newest unpaid proforma of each service."""
    latest = dict(
        db.session.execute(
            sa.select(InvoiceLine.service_id, sa.func.max(Invoice.id))
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(
                InvoiceLine.service_id.in_(list(service_ids)),
                Invoice.kind == DocumentKind.PROFORMA,
                Invoice.status == InvoiceStatus.UNPAID,
            )
            .group_by(InvoiceLine.service_id)
        ).all()
    )
    invoices = {i.id: i for i in db.session.scalars(sa.select(Invoice).where(Invoice.id.in_(set(latest.values()))))}
    return {service_id: invoices[invoice_id] for service_id, invoice_id in latest.items()}


def send_termination_warnings(today: date) -> int:
    """The last warning, TERMINATION_WARNING_DAYS before a suspended service is terminated
    (once per service and due date). Returns how many services got it.

    Due from its day until the termination day: a run that missed days still
    sends it, and a service whose termination day has come is terminated
    instead (the run terminates first), never warned after the fact.
    """

    warning_days = current_app.config["TERMINATION_WARNING_DAYS"]
    if warning_days <= 0:
        return 0
    terminate_after = sa.func.coalesce(Client.terminate_days_after, current_app.config["TERMINATE_DAYS_AFTER"])
    services = db.session.scalars(
        sa.select(Service)
        .join(Client, Client.id == Service.client_id)
        .where(
            Service.status == ServiceStatus.SUSPENDED,
            Service.next_due_date.is_not(None),
            Service.next_due_date <= add_days(today, warning_days - terminate_after),  # the warning day has come
            Service.next_due_date > add_days(today, -terminate_after),  # the termination day has not
            ~sa.exists().where(
                ServiceNotice.service_id == Service.id,
                ServiceNotice.due_date == Service.next_due_date,
                ServiceNotice.stage == "termination_warning",
            ),
        )
        .options(selectinload(Service.product))
        .order_by(Service.id)
    ).all()
    if not services:
        return 0
    proformas = _renewal_proformas(s.id for s in services)
    days = {c.id: c.terminate_days_after for c in _clients(s.client_id for s in services).values()}

    def invoice_for(service, user):
        return proformas.get(service.id) if can(user, "invoices.view") else None

    def invoice_url(service, user):
        invoice = invoice_for(service, user)
        return invoice_login_url(user, invoice) if invoice else external_url("auth.login")

    def terminate_on(service, _user):
        after = days[service.client_id]
        return service.next_due_date + timedelta(
            days=after if after is not None else current_app.config["TERMINATE_DAYS_AFTER"]
        )

    return _queue_service_notices(
        services,
        "termination_warning",
        "service_termination_warning",
        invoice=invoice_for,
        pay_invoice=invoice_for,  # paid meanwhile: the warning is cancelled, not sent
        amount=lambda service, user: _money(invoice_for(service, user)) if invoice_for(service, user) else None,
        invoice_url=invoice_url,
        terminate_on=terminate_on,
    )


def on_services_terminated(sender, *, service_ids: list[int]) -> None:
    """The termination notice (email only: SMS are for renewals and suspensions), once per service."""

    services = db.session.scalars(
        sa.select(Service)
        .where(Service.id.in_(service_ids))
        .options(selectinload(Service.product))
        .order_by(Service.id)
    ).all()
    _queue_service_notices(
        services, "terminated", "service_terminated", account_url=lambda s, u: external_url("auth.login")
    )


# --- wallet ---------------------------------------------------------------------------------


def _wallet_email(template: str, client_id: int, **context) -> None:
    client = db.session.get(Client, client_id)
    for user in recipients(_users_by_client([client.id])[client.id], template):
        queue_email(template, to=user, client=client, wallet_url=external_url("wallet.index"), **context)


def on_wallet_topped_up(sender, *, payment_id: int) -> None:
    """A receipt for a card payment credited to the wallet."""

    payment = db.session.get(Payment, payment_id)
    entry = db.session.scalar(sa.select(LedgerEntry).where(LedgerEntry.payment_id == payment.id))
    client = db.session.get(Client, payment.client_id)
    _wallet_email(
        "top_up_receipt",
        client.id,
        payment=payment,
        amount=_amount(payment.amount_minor, payment.currency),
        new_balance=_amount(entry.balance_after_minor, entry.currency),
        card=f"{payment.card_brand or 'Card'} •••• {payment.card_last4 or '????'}",
        reference=payment.external_id or f"P-{payment.id}",
        paid_at=payment.completed_at or payment.created_at,  # formatted in the reader's language
    )


def on_bank_transfer_reviewed(sender, *, transfer_id: int) -> None:
    """Tell the client their bank transfer was credited, or why it was rejected."""

    transfer = db.session.get(BankTransfer, transfer_id)
    client = db.session.get(Client, transfer.client_id)
    if transfer.status is TransferStatus.APPROVED:
        entry = db.session.scalar(sa.select(LedgerEntry).where(LedgerEntry.bank_transfer_id == transfer.id))
        _wallet_email(
            "bank_transfer_credited",
            client.id,
            transfer=transfer,
            amount=_amount(transfer.received_minor, transfer.currency),
            new_balance=_amount(entry.balance_after_minor, entry.currency),
            reviewed_at=transfer.reviewed_at,
        )
    elif transfer.status is TransferStatus.REJECTED:
        _wallet_email(
            "bank_transfer_rejected",
            client.id,
            transfer=transfer,
            amount=_amount(transfer.amount_minor, transfer.currency),
        )


# --- reminders ---------------------------------------------------------------------------------


def reminder_stages() -> list[tuple[str, int]]:
    """(stage, days after the due date) in order: before due, on due, after due."""
    config = current_app.config
    stages = [("before_due", -config["REMINDER_DAYS_BEFORE"]), ("due", 0)]
    stages += [(f"after_due_{d}", d) for d in sorted(config["REMINDER_DAYS_AFTER"])]
    return stages


def send_invoice_reminders(today: date) -> int:
    """Email each stage of reminder once per unpaid proforma. Returns how many proformas got one.

    A stage is due from its date until the next stage's date, so a run that
    missed a day still sends it, and a later run never sends an earlier stage.
    A proforma for a suspended or terminated service gets none: its notices said more.
    """

    stages = reminder_stages()
    sent = 0
    for index, (stage, offset) in enumerate(stages):
        next_offset = stages[index + 1][1] if index + 1 < len(stages) else None
        due_until = today - timedelta(days=offset)  # due_date + offset <= today
        query = sa.select(Invoice).where(
            Invoice.kind == DocumentKind.PROFORMA,
            Invoice.status == InvoiceStatus.UNPAID,
            Invoice.due_date <= due_until,
            Invoice.issue_date < today,  # the proforma email itself was the news that day
            # Staff turned reminders off for the client (None: on).
            ~sa.exists().where(Client.id == Invoice.client_id, Client.send_reminders.is_(False)),
            ~sa.exists().where(InvoiceReminder.invoice_id == Invoice.id, InvoiceReminder.stage == stage),
            # "will be suspended" after "suspended" is false: the suspension notice asked to pay already.
            ~sa.exists().where(
                InvoiceLine.invoice_id == Invoice.id,
                InvoiceLine.service_id == Service.id,
                Service.status.in_([ServiceStatus.SUSPENDED, ServiceStatus.TERMINATED]),
            ),
        )
        if next_offset is not None:
            query = query.where(Invoice.due_date > today - timedelta(days=next_offset))
        proformas = db.session.scalars(query.options(selectinload(Invoice.lines)).order_by(Invoice.id)).all()
        if not proformas:
            continue
        clients = _clients(p.client_id for p in proformas)
        users = _users_by_client(clients)
        for proforma in proformas:
            db.session.add(InvoiceReminder(invoice_id=proforma.id, stage=stage))
            client = clients[proforma.client_id]
            for user in recipients(users[client.id], "invoice_reminder"):
                queue_email(
                    "invoice_reminder",
                    to=user,
                    client=client,
                    flush=False,
                    invoice=proforma,
                    pay_invoice=proforma,
                    stage=stage,
                    days=abs(offset),
                    amount=_money(proforma),
                    invoice_url=invoice_login_url(user, proforma),
                )
            sent += 1
        db.session.flush()
    return sent


# Each deferrable: inside app.notify.pending.deferred_notices (the billing run) it
# records a PendingNotice, rendered after the transaction by render_pending_notices.
_HANDLERS = {
    event: deferrable(event, handler)
    for event, handler in {
        "proformas_issued": on_proformas_issued,
        "invoice_paid": on_invoice_paid,
        "services_suspended": on_services_suspended,
        "services_terminated": on_services_terminated,
        "wallet_topped_up": on_wallet_topped_up,
        "bank_transfer_reviewed": on_bank_transfer_reviewed,
    }.items()
}


def init_app(app: Flask) -> None:
    for event, handler in _HANDLERS.items():
        subscribe(event, handler)  # connecting twice is a no-op
