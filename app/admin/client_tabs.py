"""The client profile's tabs (/admin/clients/<id>/<tab>): what each one shows.

Every tab is its own URL (bookmarkable); htmx loads it in place of the one shown.
A tab reads a fixed number of queries whatever the client's size: each list is a
keyset page of PAGE rows, newest first, with a link to the older ones
(`?<list>_after=<cursor>`, app/admin/paging.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import abort, current_app, request
from sqlalchemy.orm import aliased, joinedload, selectinload

from app.access.policy import PERMISSIONS
from app.admin import paging
from app.admin.casework_forms import ButtonForm, FileForm, MoveServiceForm, NoteForm, QueuedItemForm, ServiceGroupForm
from app.audit.models import AuditEntry
from app.casework.models import ClientFile, ClientNote
from app.casework.services import queued_items_of
from app.clients.models import Client, ProfileChange, User
from app.core.dates import today
from app.core.i18n import _, _l
from app.extensions import db
from app.hosting.models import Service, ServiceGroup, ServiceStatus
from app.invoices.models import BillingProfile, DocumentKind, Invoice, InvoiceStatus, ProformaOrigin, ServiceRenewal
from app.notify.models import EmailMessage, MessageStatus, ServiceNotice, SmsMessage, SmsStatus
from app.profile.models import ErasureRequest
from app.security.models import LoginEvent
from app.staff.models import Staff
from app.wallet.models import BankTransfer, LedgerEntry, Payment, PaymentDirection, PaymentStatus, TransferStatus

PAGE = 50


@dataclass(frozen=True)
class Page:
    """One keyset page of a list: its rows, and the cursor to pass as `<key>_after` for older ones."""

    key: str
    rows: list
    after: str | None


def _page(key: str, query: sa.Select, id_column, *, id_of: Callable[[Any], int] = lambda row: row.id) -> Page:
    """The newest PAGE rows of `query` (older than the cursor `?<key>_after=` when given)."""
    name = f"{key}_after"
    one_entity = len(query.column_descriptions) == 1
    page = paging.keyset_page(
        query,
        [id_column],
        after=request.args.get(name, ""),
        name=name,
        descending=True,
        size=PAGE,
        key_of=lambda row: [id_of(row)],
        types=[int],
        scalars=one_entity,
    )
    return Page(key, page.rows, page.after)


def _choice(name: str, allowed: dict[str, Any]) -> str:
    """An allow-listed filter value from the query string ("" when absent); anything else is a 400."""
    value = request.args.get(name, "")
    if value and value not in allowed:
        abort(400, description=_("%(name)s must be one of: %(values)s", name=name, values=", ".join(allowed)))
    return value


def _actor_names(actors) -> dict[str, str]:
    """Who "staff:2" and "user:7" are (a name, an email), for the logs; two queries at most.
    "staff:2 as user:7" (staff signed in as the client) reads "Name (staff) as email"."""
    actors = list(actors)
    ids: dict[str, set[int]] = {"staff": set(), "user": set()}
    for actor in actors:
        for part in actor.split(" as "):
            kind, _colon, number = part.partition(":")
            if kind in ids and number.isdigit():
                ids[kind].add(int(number))
    names = {}
    if ids["staff"]:
        for staff_id, name in db.session.execute(sa.select(Staff.id, Staff.name).where(Staff.id.in_(ids["staff"]))):
            names[f"staff:{staff_id}"] = _("%(name)s (staff)", name=name)
    if ids["user"]:
        for user_id, email in db.session.execute(sa.select(User.id, User.email).where(User.id.in_(ids["user"]))):
            names[f"user:{user_id}"] = email
    for actor in actors:
        parts = actor.split(" as ")
        if len(parts) == 2:
            staff, user = (names.get(part, part) for part in parts)
            names[actor] = _("%(staff)s as %(user)s", staff=staff, user=user)
        elif len(parts) > 2:
            names[actor] = " as ".join(names.get(part, part) for part in parts)
    return names


# --- summary ------------------------------------------------------------------------------


def summary(client: Client) -> dict:
    """The money and services at a glance, and what waits for staff."""
    owed = Invoice.total_minor - Invoice.amount_paid_minor
    unpaid_total, overdue_total, overdue_count = db.session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(owed), 0),
            sa.func.coalesce(sa.func.sum(sa.case((Invoice.due_date < today(), owed), else_=0)), 0),
            sa.func.count(sa.case((Invoice.due_date < today(), Invoice.id))),
        ).where(
            Invoice.client_id == client.id,
            Invoice.kind == DocumentKind.PROFORMA,
            Invoice.status == InvoiceStatus.UNPAID,
        )
    ).one()
    services = dict(
        db.session.execute(
            sa.select(Service.status, sa.func.count()).where(Service.client_id == client.id).group_by(Service.status)
        ).all()
    )
    income, transfers, failed_email, failed_sms, erasure = db.session.execute(
        sa.select(
            sa.select(sa.func.coalesce(sa.func.sum(Payment.amount_minor), 0))
            .where(
                Payment.client_id == client.id,
                Payment.status == PaymentStatus.SUCCEEDED,
                Payment.direction == PaymentDirection.IN,
            )
            .scalar_subquery(),
            sa.select(sa.func.count())
            .where(BankTransfer.client_id == client.id, BankTransfer.status == TransferStatus.PENDING)
            .scalar_subquery(),
            sa.select(sa.func.count())
            .where(EmailMessage.client_id == client.id, EmailMessage.status == MessageStatus.FAILED)
            .scalar_subquery(),
            sa.select(sa.func.count())
            .where(SmsMessage.client_id == client.id, SmsMessage.status == SmsStatus.FAILED)
            .scalar_subquery(),
            sa.select(sa.func.count())
            .where(ErasureRequest.client_id == client.id, ErasureRequest.status == "open")
            .scalar_subquery(),
        )
    ).one()
    return {
        "pinned_notes": _pinned_notes(client),
        "unpaid": unpaid_total,
        "overdue": overdue_total,
        "overdue_count": overdue_count,
        "services": services,
        "income": income,
        "transfers_to_review": transfers,
        "failed_messages": failed_email + failed_sms,
        "erasure_requested": erasure,
    }


def _pinned_notes(client: Client) -> list[ClientNote]:
    """The client's pinned notes, newest first (at most a page of them), with their authors."""
    return db.session.scalars(
        sa.select(ClientNote)
        .where(ClientNote.client_id == client.id, ClientNote.pinned)
        .options(joinedload(ClientNote.author))
        .order_by(ClientNote.id.desc())
        .limit(PAGE)
    ).all()


# --- contacts -----------------------------------------------------------------------------


def contacts(client: Client) -> dict:
    """The people who log in (owner and trusted users, with what each may do) and the saved payers."""
    payers = db.session.scalars(
        sa.select(BillingProfile).where(BillingProfile.client_id == client.id).order_by(BillingProfile.id)
    ).all()
    users = db.session.scalars(sa.select(User).where(User.client_id == client.id).order_by(User.id)).all()
    return {"users": users, "permission_labels": PERMISSIONS, "payers": payers}


# --- orders -------------------------------------------------------------------------------


def orders(client: Client) -> dict:
    """The client's orders: order proformas with what was ordered and the invoice each became."""
    page = _page(
        "orders",
        sa.select(Invoice)
        .where(
            Invoice.client_id == client.id,
            Invoice.kind == DocumentKind.PROFORMA,
            Invoice.origin == ProformaOrigin.ORDER,
        )
        .options(selectinload(Invoice.lines)),
        Invoice.id,
    )
    return {"orders": page, "invoiced": _tax_invoices_of([order.id for order in page.rows])}


def _tax_invoices_of(proforma_ids: list[int]) -> dict[int, str]:
    if not proforma_ids:
        return {}
    rows = db.session.execute(
        sa.select(Invoice.source_id, Invoice.number).where(
            Invoice.source_id.in_(proforma_ids), Invoice.kind == DocumentKind.TAX_INVOICE
        )
    )
    return dict(rows.all())


# --- services -----------------------------------------------------------------------------

SERVICE_STATUSES = {status.value: status for status in ServiceStatus}


def services(
    client: Client,
    group_form: ServiceGroupForm | None = None,
    rename_forms: dict | None = None,
    move_forms: dict | None = None,
) -> dict:
    """The client's services by status (a filter) and service group, each with its timeline;
    the client's groups, with the forms that create, rename, hide them and move services
    (a form given is one refused, shown with its errors)."""
    status = _choice("status", SERVICE_STATUSES)
    # The groups first: each service's group is then found in the session, with no query more.
    groups = db.session.scalars(
        sa.select(ServiceGroup).where(ServiceGroup.client_id == client.id).order_by(ServiceGroup.name, ServiceGroup.id)
    ).all()
    query = sa.select(Service).where(Service.client_id == client.id).options(joinedload(Service.product))
    if status:
        query = query.where(Service.status == SERVICE_STATUSES[status])
    page = _page("services", query, Service.id)
    counts = dict(
        db.session.execute(
            sa.select(Service.status, sa.func.count()).where(Service.client_id == client.id).group_by(Service.status)
        ).all()
    )
    grouped: dict[str, list[Service]] = {}  # by service group, in the page's order
    for service in page.rows:
        grouped.setdefault(service.group.name if service.group else "", []).append(service)
    return {
        "services": page,
        "grouped": grouped,
        "status": status,
        "counts": counts,
        "statuses": list(ServiceStatus),
        "cycle_labels": CYCLE_LABELS,
        "timelines": _timelines(page.rows),
        "groups": groups,
        "group_form": group_form or ServiceGroupForm(formdata=None),
        "rename_forms": {
            group.id: (rename_forms or {}).get(group.id)
            or ServiceGroupForm(formdata=None, prefix=f"group{group.id}", name=group.name)
            for group in groups
        },
        "move_forms": {
            service.id: _move_form(service, groups, (move_forms or {}).get(service.id)) for service in page.rows
        },
        "button": ButtonForm(formdata=None),
    }


def _move_form(service: Service, groups: list[ServiceGroup], refused: MoveServiceForm | None) -> MoveServiceForm:
    form = refused or MoveServiceForm(
        formdata=None, prefix=f"service{service.id}", group_id=str(service.group_id or "")
    )
    form.group_id.choices = [("", _("No group")), *((str(group.id), group.name) for group in groups)]
    return form


def _timelines(rows: list[Service]) -> dict[int, list[tuple]]:
    """Each service's history, oldest first: (date, what happened, detail)."""
    ids = [service.id for service in rows]
    events: dict[int, list[tuple]] = defaultdict(list)
    for service in rows:
        events[service.id].append((service.created_at.date(), _("Ordered"), service.product.name))
        if service.activated_at:
            events[service.id].append((service.activated_at.date(), _("Activated"), ""))
        if service.suspended_on:
            events[service.id].append((service.suspended_on, _("Suspended"), service.suspension_reason or ""))
        if service.terminated_on:
            events[service.id].append((service.terminated_on, _("Terminated"), ""))
    if ids:
        renewals = db.session.execute(
            sa.select(ServiceRenewal.service_id, ServiceRenewal.period_start, Invoice.number, Invoice.status)
            .join(Invoice, Invoice.id == ServiceRenewal.proforma_id)
            .where(ServiceRenewal.service_id.in_(ids))
        )
        for service_id, period_start, number, status in renewals:
            events[service_id].append((period_start, _("Renewal billed"), f"{number} ({status.label.lower()})"))
        notices = db.session.execute(
            sa.select(ServiceNotice.service_id, ServiceNotice.created_at, ServiceNotice.stage).where(
                ServiceNotice.service_id.in_(ids)
            )
        )
        for service_id, created_at, stage in notices:
            events[service_id].append((created_at.date(), _("Notice sent"), stage.replace("_", " ")))
    return {service_id: sorted(items, key=lambda item: item[0]) for service_id, items in events.items()}


# --- invoices -----------------------------------------------------------------------------

DOCUMENT_KINDS = {kind.value: kind for kind in DocumentKind}


def invoices(client: Client, queued_form: QueuedItemForm | None = None) -> dict:
    """Proformas, tax invoices and credit notes (one kind, or all), with the document each came
    from; the items queued for the next proforma, and the form that queues one."""
    kind = _choice("kind", DOCUMENT_KINDS)
    query = sa.select(Invoice).where(Invoice.client_id == client.id).options(joinedload(Invoice.source))
    if kind:
        query = query.where(Invoice.kind == DOCUMENT_KINDS[kind])
    counts = dict(
        db.session.execute(
            sa.select(Invoice.kind, sa.func.count()).where(Invoice.client_id == client.id).group_by(Invoice.kind)
        ).all()
    )
    return {
        "invoices": _page("invoices", query, Invoice.id),
        "kind": kind,
        "kinds": list(DocumentKind),
        "kind_labels": KIND_LABELS,
        "kind_plurals": KIND_PLURALS,
        "kind_none_yet": KIND_NONE_YET,
        "counts": counts,
        "today": today(),
        "queued": queued_items_of(client.id),
        "queued_form": queued_form or QueuedItemForm(formdata=None),
        "button": ButtonForm(formdata=None),
    }


# --- transactions -------------------------------------------------------------------------


def transactions(client: Client) -> dict:
    """Money in and out (payments, with fees and totals) and the credit log (the wallet ledger)."""
    succeeded = (Payment.client_id == client.id, Payment.status == PaymentStatus.SUCCEEDED)
    amount_in, amount_out, fees = db.session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(sa.case((Payment.direction == PaymentDirection.IN, Payment.amount_minor))), 0),
            sa.func.coalesce(
                sa.func.sum(sa.case((Payment.direction == PaymentDirection.OUT, Payment.amount_minor))), 0
            ),
            sa.func.coalesce(sa.func.sum(Payment.fee_minor), 0),
        ).where(*succeeded)
    ).one()
    refund = aliased(Payment)
    refunded = (
        sa.select(sa.func.coalesce(sa.func.sum(refund.amount_minor), 0))
        .where(
            refund.refund_of_id == Payment.id,
            refund.status.in_([PaymentStatus.PENDING, PaymentStatus.SUCCEEDED]),
        )
        .scalar_subquery()
    )
    payments = _page(
        "payments",
        # With what is refunded of each (no query more): a "Refund" link while some is left.
        sa.select(Payment, Invoice.number, refunded)
        .outerjoin(Invoice, Invoice.id == Payment.invoice_id)
        .where(Payment.client_id == client.id),
        Payment.id,
        id_of=lambda row: row[0].id,
    )
    ledger = _page(
        "ledger",
        sa.select(LedgerEntry).where(LedgerEntry.client_id == client.id).options(joinedload(LedgerEntry.invoice)),
        LedgerEntry.id,
    )
    return {
        "totals": {"in": amount_in, "out": amount_out, "fees": fees, "net": amount_in - amount_out - fees},
        "payments": payments,
        "ledger": ledger,
        "actors": _actor_names(entry.actor for entry in ledger.rows),
    }


# --- messages -----------------------------------------------------------------------------


def messages(client: Client) -> dict:
    """The emails and SMS written for the client: readable, with delivery status and attempts."""
    return {
        "emails": _page("emails", sa.select(EmailMessage).where(EmailMessage.client_id == client.id), EmailMessage.id),
        "sms": _page("sms", sa.select(SmsMessage).where(SmsMessage.client_id == client.id), SmsMessage.id),
    }


# --- logs ---------------------------------------------------------------------------------


def logs(client: Client) -> dict:
    """The profile change log, the audit log for this client (staff and others) and sign-in history."""
    changes = _page("changes", sa.select(ProfileChange).where(ProfileChange.client_id == client.id), ProfileChange.id)
    audit = _page("audit", sa.select(AuditEntry).where(AuditEntry.client_id == client.id), AuditEntry.id)
    return {
        "changes": changes,
        "audit": audit,
        "signins": _page(
            "signins",
            sa.select(LoginEvent, User.email)
            .join(User, User.id == LoginEvent.user_id)
            .where(User.client_id == client.id),
            LoginEvent.id,
            id_of=lambda row: row[0].id,
        ),
        "actors": _actor_names([row.actor for row in changes.rows] + [row.actor for row in audit.rows]),
    }


# --- notes --------------------------------------------------------------------------------


def notes(client: Client, note_form: NoteForm | None = None, edit_forms: dict | None = None) -> dict:
    """Staff notes: the pinned ones on top, then the others newest first (a keyset page), and
    the form that adds one. Internal: the client never sees them."""
    others = _page(
        "notes",
        sa.select(ClientNote)
        .where(ClientNote.client_id == client.id, sa.not_(ClientNote.pinned))
        .options(joinedload(ClientNote.author)),
        ClientNote.id,
    )
    return {
        "pinned": _pinned_notes(client),
        "notes": others,
        "note_form": note_form or NoteForm(formdata=None),
        "edit_forms": edit_forms or {},
        "button": ButtonForm(formdata=None),
    }


# --- files --------------------------------------------------------------------------------


def files(client: Client, file_form: FileForm | None = None) -> dict:
    """The files on the profile (admin-only or client-visible), newest first, and the upload form."""
    return {
        "files": _page(
            "files",
            sa.select(ClientFile).where(ClientFile.client_id == client.id).options(joinedload(ClientFile.uploaded_by)),
            ClientFile.id,
        ),
        "file_form": file_form or FileForm(formdata=None),
        "max_mb": current_app.config["CLIENT_FILE_MAX_BYTES"] // (1024 * 1024),
        "button": ButtonForm(formdata=None),
    }


#: How a stored status value reads on the tabs (users, clients, services, payments, emails,
#: SMS): the value stays a code in the database, the label is the reader's language.
STATUS_LABELS = {
    "active": _l("Active"),
    "suspended": _l("Suspended"),
    "closed": _l("Closed"),
    "archived": _l("Archived"),
    "anonymized": _l("Anonymized"),
    "pending": _l("Pending"),
    "terminated": _l("Terminated"),
    "cancelled": _l("Cancelled"),
    "succeeded": _l("Succeeded"),
    "failed": _l("Failed"),
    "refunded": _l("Refunded"),
    "queued": _l("Queued"),
    "sending": _l("Sending"),
    "sent": _l("Sent"),
}

#: A billing cycle as the Services tab names it.
CYCLE_LABELS = {
    "monthly": _l("Monthly"),
    "quarterly": _l("Quarterly"),
    "semiannually": _l("Semiannually"),
    "annually": _l("Annually"),
    "biennially": _l("Biennially"),
}

#: Each kind of document on the Invoices tab: its name, its plural (the filter link) and its empty list.
KIND_LABELS = {
    "proforma": _l("Proforma"),
    "tax_invoice": _l("Tax invoice"),
    "credit_note": _l("Credit note"),
}
KIND_PLURALS = {
    "proforma": _l("Proformas"),
    "tax_invoice": _l("Tax invoices"),
    "credit_note": _l("Credit notes"),
}
KIND_NONE_YET = {
    "proforma": _l("No proformas yet."),
    "tax_invoice": _l("No tax invoices yet."),
    "credit_note": _l("No credit notes yet."),
}

#: The tabs in the order shown: URL segment -> (label, what it reads).
TABS: dict[str, tuple[Any, Callable[[Client], dict]]] = {
    "summary": (_l("Summary"), summary),
    "contacts": (_l("Contacts"), contacts),
    "orders": (_l("Orders"), orders),
    "services": (_l("Services"), services),
    "invoices": (_l("Invoices"), invoices),
    "transactions": (_l("Transactions"), transactions),
    "messages": (_l("Messages"), messages),
    "logs": (_l("Logs"), logs),
    "notes": (_l("Notes"), notes),
    "files": (_l("Files"), files),
}
