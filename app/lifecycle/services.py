"""The client account's lifecycle: close, archive and reopen, anonymize, merge, delete.

Each takes the staff actor, locks the client row(s), writes one audit entry per action
and flushes; the caller commits. Merge and delete work through `db.metadata` (every
table with a client foreign key), so a table added later is moved or deleted with the rest.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from app.approvals import services as approvals
from app.approvals.models import ApprovalRequest, ApprovalStatus
from app.audit.services import record
from app.casework.services import erase_casework
from app.clients.models import Client, ClientStatus, ProfileChange, User, UserRole, UserStatus, new_security_stamp
from app.clients.services import lock_client
from app.core.actors import Actor
from app.core.dates import today
from app.core.errors import Conflict, ValidationError
from app.core.i18n import _, _l
from app.core.passwords import hash_password
from app.core.types import utcnow
from app.extensions import db
from app.hosting.models import Service, ServiceGroup
from app.hosting.services import terminate_client_services
from app.invoices.models import TAX_DOCUMENTS, BillingProfile, DocumentKind, Invoice
from app.invoices.services import cancel_unpaid_proformas
from app.notify.models import EmailMessage, MessageStatus, PortalNotice, SmsMessage, SmsStatus
from app.security.models import LoginEvent, RecoveryCode, UserSession
from app.staff import privileges as P
from app.wallet.models import BankTransfer, EntryKind, LedgerEntry, Payment, SavedCard
from app.wallet.services import post_entry
from app.wallet.uploads import proof_file

log = logging.getLogger(__name__)

#: Statuses a live account can be closed from, and reopened from.
_OPEN = (ClientStatus.ACTIVE, ClientStatus.SUSPENDED)
_ENDED = (ClientStatus.CLOSED, ClientStatus.ARCHIVED)


def client_foreign_keys() -> list[sa.Column]:
    """Every column in the schema that points at clients.id (the tombstone's own included)."""
    clients = db.metadata.tables["clients"]
    return [
        fk.parent
        for table in db.metadata.sorted_tables
        for fk in table.foreign_keys
        if fk.column.table is clients and fk.column.name == "id"
    ]


def _live(client_id: int) -> Client:
    """The client, locked; a tombstone or an anonymized account refuses any lifecycle change."""
    client = lock_client(client_id)
    if client.merged_into_id is not None:
        raise Conflict(
            _("Client #%(id)s was merged into client #%(target)s.", id=client.id, target=client.merged_into_id)
        )
    if client.status is ClientStatus.ANONYMIZED:
        raise Conflict(_("Client #%(id)s is anonymized: nothing more can change.", id=client.id))
    return client


#: Why a status change is refused, by action ("Client #7 is closed: it cannot be closed now.").
_REFUSED = {
    "close": _l("Client #%(id)s is %(status)s: it cannot be closed now."),
    "archive": _l("Client #%(id)s is %(status)s: it cannot be archived now."),
    "reopen": _l("Client #%(id)s is %(status)s: it cannot be reopened now."),
}

#: A client status inside a sentence ("Client #7 is closed").
_STATUS_WORDS = {
    ClientStatus.ACTIVE: _l("active"),
    ClientStatus.SUSPENDED: _l("suspended"),
    ClientStatus.CLOSED: _l("closed"),
    ClientStatus.ARCHIVED: _l("archived"),
    ClientStatus.ANONYMIZED: _l("anonymized"),
}


def _set_status(client: Client, status: ClientStatus, *, allowed_from, action: str, actor: Actor) -> None:
    if client.status not in allowed_from:
        word = _STATUS_WORDS.get(client.status, client.status.value)
        raise Conflict(str(_REFUSED[action]) % {"id": client.id, "status": word})
    old = client.status
    client.status = status
    record(
        actor, f"client.{action}", client_id=client.id, target=f"client:{client.id}", old=old.value, new=status.value
    )


# --- close, archive, reopen ------------------------------------------------------------


@dataclass(frozen=True)
class Closed:
    services_ended: list[int]
    proformas_cancelled: list[int]


def close_client(
    client_id: int, *, actor: Actor, terminate_services: bool = False, cancel_proformas: bool = False
) -> Closed:
    """Set an active or suspended account CLOSED: its users can no longer sign in
    (User.is_active). Optionally terminate its services (pending ones are cancelled)
    and cancel its unpaid proformas with nothing paid on them.

    Raises Conflict for an account already closed, archived, anonymized or merged.
    """
    client = _live(client_id)
    _set_status(client, ClientStatus.CLOSED, allowed_from=_OPEN, action="close", actor=actor)
    ended = terminate_client_services(client.id, on=today()) if terminate_services else []
    cancelled = cancel_unpaid_proformas(client.id) if cancel_proformas else []
    if ended or cancelled:
        record(
            actor,
            "client.close.cleanup",
            client_id=client.id,
            target=f"client:{client.id}",
            new=f"{len(ended)} service(s) ended, {len(cancelled)} proforma(s) cancelled",
        )
    db.session.flush()
    db.session.expire_all()  # the bulk updates bypassed the session
    return Closed(ended, cancelled)


def archive_client(client_id: int, *, actor: Actor) -> None:
    """Set an account ARCHIVED (out of the way; nobody signs in). Raises Conflict when archived."""
    client = _live(client_id)
    _set_status(
        client, ClientStatus.ARCHIVED, allowed_from=(*_OPEN, ClientStatus.CLOSED), action="archive", actor=actor
    )
    db.session.flush()


def reopen_client(client_id: int, *, actor: Actor) -> None:
    """Set a closed or archived account ACTIVE again (services stay as they are).
    Raises Conflict for an open, anonymized or merged account."""
    client = _live(client_id)
    _set_status(client, ClientStatus.ACTIVE, allowed_from=_ENDED, action="reopen", actor=actor)
    db.session.flush()


# --- anonymize ----------------------------------------------------------------------


def _placeholder_user(user: User) -> None:
    user.name = f"Anonymized user {user.id}"
    user.email = f"anonymized-{user.id}@anonymized.invalid"
    user.phone = None
    user.avatar_png = None
    user.sms_opt_in = False
    user.last_login_ip = None
    user.ip_allowlist = []
    user.login_alerts = False
    user.totp_secret = user.totp_enabled_at = user.totp_last_step = None
    user.permissions = []
    user.notification_types = []
    user.status = UserStatus.SUSPENDED
    user.password_hash = hash_password(secrets.token_urlsafe(32))  # nobody knows it
    user.security_stamp = new_security_stamp()  # ends its sessions, voids its links
    user.reset_nonce = new_security_stamp()


_BILLING_FIELDS_CLEARED = ("company_name", "tax_id", "address_line1", "address_line2", "city", "region", "postcode")
_BUYER_FIELDS_CLEARED = tuple(f"buyer_{name}" for name in ("company", "tax_id", *_BILLING_FIELDS_CLEARED[2:]))


def anonymize_client(client_id: int, *, actor: Actor) -> None:
    """Remove the account's non-billing personal data and set it ANONYMIZED for good.

    Ends it first (services terminated, unpaid proformas cancelled). Then:
    - users (owner and trusted users): name and email replaced by placeholders unique per
      row; phone, avatar, IPs, 2FA, allow-list, permissions cleared; the password replaced
      by an unknown one and the security stamp rotated (sessions and links void); suspended.
      The rows stay: messages and the change log point at them;
    - login events, sessions, recovery codes and saved cards: deleted;
    - the change log: old and new values and IPs cleared (who, when and which field stay);
    - emails and SMS: recipients, subjects, bodies and phone numbers cleared; queued ones cancelled;
    - bank-transfer proofs: the files deleted from disk and their names cleared;
    - the client's and its saved payers' billing details and the proformas' buyer snapshot:
      a placeholder name; company, tax ID and address cleared (the country stays);
    - erasure requests: the reason cleared and the request marked done;
    - staff notes: their text replaced by a placeholder; files: deleted (disk and rows);
      staff's dashboard notices: subject and text cleared.
    Kept, as the law requires: tax invoices and credit notes (each holds its own buyer
    snapshot and never changes: the DB triggers refuse it), the wallet ledger and payments
    (amounts, dates, card brand and last 4 digits: accounting records) and the audit log
    (append-only; its entries name staff and actions, not the client's details).
    A table added later with personal data must be added here.

    Raises Conflict for a merged or already anonymized account.
    """
    client = _live(client_id)
    terminate_client_services(client.id, on=today())
    cancel_unpaid_proformas(client.id)
    user_ids = [user.id for user in client.users]
    for user in client.users:
        _placeholder_user(user)
    for model in (LoginEvent, UserSession, RecoveryCode):
        db.session.execute(sa.delete(model).where(model.user_id.in_(user_ids)))
    db.session.execute(sa.delete(SavedCard).where(SavedCard.client_id == client.id))
    db.session.execute(
        sa.update(ProfileChange)
        .where(ProfileChange.client_id == client.id)
        .values(old_value=None, new_value=None, ip=None)
    )
    _scrub_messages(client.id, user_ids)
    _delete_proofs(client.id)
    erase_casework(client.id)
    db.session.execute(sa.update(PortalNotice).where(PortalNotice.client_id == client.id).values(subject="", body=""))
    _scrub_billing_details(client)
    erasure = db.metadata.tables["erasure_requests"]  # app.profile's table: a layer above this one
    db.session.execute(sa.update(erasure).where(erasure.c.client_id == client.id).values(reason=None, status="done"))
    old = client.status
    client.status = ClientStatus.ANONYMIZED
    record(
        actor, "client.anonymize", client_id=client.id, target=f"client:{client.id}", old=old.value, new="anonymized"
    )
    db.session.flush()
    db.session.expire_all()


def _scrub_messages(client_id: int, user_ids: list[int]) -> None:
    emails = sa.or_(EmailMessage.client_id == client_id, EmailMessage.user_id.in_(user_ids))
    db.session.execute(
        sa.update(EmailMessage)
        .where(emails, EmailMessage.status == MessageStatus.QUEUED)
        .values(status=MessageStatus.CANCELLED)
    )
    db.session.execute(
        sa.update(EmailMessage)
        .where(emails)
        .values(recipients=[], subject="(removed: account anonymized)", body_text="", body_html="", last_error=None)
    )
    texts = sa.or_(SmsMessage.client_id == client_id, SmsMessage.user_id.in_(user_ids))
    db.session.execute(
        sa.update(SmsMessage)
        .where(texts, SmsMessage.status.in_([SmsStatus.QUEUED, SmsStatus.FAILED]))
        .values(status=SmsStatus.CANCELLED)
    )
    db.session.execute(sa.update(SmsMessage).where(texts).values(phone="", body="", last_error=None))


def _delete_proofs(client_id: int) -> None:
    """Delete the client's bank-transfer proof files from disk and forget their names."""
    folder = Path(current_app.config["UPLOAD_FOLDER"])
    names = db.session.scalars(
        sa.select(BankTransfer.proof_path).where(
            BankTransfer.client_id == client_id, BankTransfer.proof_path.is_not(None)
        )
    ).all()
    for name in names:
        try:
            proof_file(folder, name).unlink(missing_ok=True)
        except OSError:  # FileNotFoundError too: a name we did not generate
            log.warning("proof file %r of client %s could not be deleted", name, client_id)
    db.session.execute(
        sa.update(BankTransfer)
        .where(BankTransfer.client_id == client_id)
        .values(proof_path=None, proof_filename=None, proof_mimetype=None, proof_size=None)
    )


def _scrub_billing_details(client: Client) -> None:
    placeholder = f"Anonymized client {client.id}"
    client.name = placeholder
    for name in _BILLING_FIELDS_CLEARED:
        setattr(client, name, None)
    client.affiliate = None
    client.tags = []
    db.session.execute(
        sa.update(BillingProfile)
        .where(BillingProfile.client_id == client.id)
        .values(name=placeholder, **dict.fromkeys(_BILLING_FIELDS_CLEARED))
    )
    # Proformas are payment requests, not legal documents: their buyer snapshot goes too.
    db.session.execute(
        sa.update(Invoice)
        .where(Invoice.client_id == client.id, Invoice.kind == DocumentKind.PROFORMA)
        .values(buyer_name=placeholder, **dict.fromkeys(_BUYER_FIELDS_CLEARED))
        .execution_options(synchronize_session=False)
    )


# --- merge --------------------------------------------------------------------------

#: What a merge leaves on the source (its tombstone), by table: documents and entries the
#: database refuses to change. The target's lifecycle page lists them through the tombstone.
KEPT_ON_TOMBSTONE = {
    "invoices": "tax invoices and credit notes (immutable: the triggers refuse any UPDATE)",
    "ledger_entries": "the source's ledger (append-only); its balance moves by two entries",
}


def merge_clients(source_id: int, target_id: int, *, actor: Actor) -> Client:
    """Move everything of client `source_id` into client `target_id`; the source becomes
    a CLOSED tombstone whose merged_into_id names the target (its old URL redirects).

    Under both row locks (id order). Every table with a client foreign key is moved
    (services, proformas, payments, saved cards, bank transfers, billing profiles, queued
    items, emails and SMS, the change log, erasure requests, and any table added later),
    with these rules:
    - users move and become trusted users of the target (it keeps its one owner) with the
      permissions they had (an owner's: none, until the target's owner grants some); their
      security stamp is rotated, so their sessions end;
    - service groups move, except one named like a target group: its services join that group;
    - billing profiles move, none of them the target's default;
    - tax invoices, credit notes and ledger entries stay on the tombstone (KEPT_ON_TOMBSTONE):
      the source's balance moves as an adjustment out of the source and one into the target,
      so both ledgers still sum to their balances (`flask wallet verify`);
    - tombstones of earlier merges into the source now point at the target.

    Raises ValidationError (field source_id) for the same client, an unknown one or another
    currency, Conflict for a tombstone, an anonymized account or a source with four-eyes
    requests still pending.
    """
    source, target = _mergeable(source_id, target_id)
    moved = source.balance_minor
    if moved:
        note = f"Balance moved by the merge of client #{source.id} into #{target.id}"
        key = f"merge:{source.id}:{target.id}"
        post_entry(source.id, -moved, EntryKind.ADJUSTMENT, key=f"{key}:out", actor=actor, description=note)
        post_entry(target.id, moved, EntryKind.ADJUSTMENT, key=f"{key}:in", actor=actor, description=note)
    _move_users(source, target)
    _move_service_groups(source.id, target.id)
    db.session.execute(
        sa.update(BillingProfile)
        .where(BillingProfile.client_id == source.id)
        .values(client_id=target.id, is_default=False)
    )
    db.session.execute(
        sa.update(Invoice)
        .where(Invoice.client_id == source.id, Invoice.kind.not_in(TAX_DOCUMENTS))
        .values(client_id=target.id)
        .execution_options(synchronize_session=False)
    )
    special = {"users", "service_groups", "billing_profiles", *KEPT_ON_TOMBSTONE}
    for column in client_foreign_keys():
        if column.table.name not in special:
            db.session.execute(sa.update(column.table).where(column == source.id).values({column.name: target.id}))
    source.merged_into_id = target.id
    source.status = ClientStatus.CLOSED
    for client_id in (target.id, source.id):
        record(
            actor,
            "client.merge",
            client_id=client_id,
            target=f"client:{source.id}",
            old=f"client #{source.id}",
            new=f"merged into client #{target.id} (balance {moved} minor units moved)",
        )
    db.session.flush()
    db.session.expire_all()
    return target


def _mergeable(source_id: int, target_id: int) -> tuple[Client, Client]:
    """Both clients, locked in id order, if `source_id` can be merged into `target_id`;
    raises as merge_clients says."""
    if source_id == target_id:
        raise ValidationError(_("Choose another client: a client cannot be merged into itself."), field="source_id")
    if db.session.get(Client, source_id) is None:
        raise ValidationError(_("There is no client #%(id)s.", id=source_id), field="source_id")
    clients = {client_id: _live(client_id) for client_id in sorted((source_id, target_id))}
    source, target = clients[source_id], clients[target_id]
    if source.currency != target.currency:
        raise ValidationError(
            _(
                "Client #%(id)s pays in %(source)s and this client in %(target)s: "
                "only clients with the same currency can be merged.",
                id=source.id,
                source=source.currency,
                target=target.currency,
            ),
            field="source_id",
        )
    waiting = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(ApprovalRequest)
        .where(
            ApprovalRequest.client_id == source.id,
            ApprovalRequest.status == ApprovalStatus.PENDING,
            ApprovalRequest.expires_at > utcnow(),  # an expired one can never run (and is never swept)
        )
    )
    if waiting:
        # Their payloads name the source: approved after the merge, they would act on the tombstone.
        raise Conflict(
            _(
                "Client #%(id)s has %(count)s change(s) waiting for approval: decide them first.",
                id=source.id,
                count=waiting,
            )
        )
    return source, target


def _move_users(source: Client, target: Client) -> None:
    for user in list(source.users):
        user.client_id = target.id
        user.role = UserRole.TRUSTED
        user.security_stamp = new_security_stamp()
    db.session.flush()


def _move_service_groups(source_id: int, target_id: int) -> None:
    names = dict(
        db.session.execute(
            sa.select(ServiceGroup.name, ServiceGroup.id).where(ServiceGroup.client_id == target_id)
        ).all()
    )
    for group in db.session.scalars(sa.select(ServiceGroup).where(ServiceGroup.client_id == source_id)).all():
        if group.name in names:
            db.session.execute(
                sa.update(Service).where(Service.group_id == group.id).values(group_id=names[group.name])
            )
            db.session.delete(group)
        else:
            group.client_id = target_id
    db.session.flush()


def merged_sources(client_id: int) -> list[Client]:
    """The tombstones of the clients merged into `client_id`."""
    return list(db.session.scalars(sa.select(Client).where(Client.merged_into_id == client_id).order_by(Client.id)))


def tombstone_documents(client_id: int) -> list[Invoice]:
    """The tax invoices and credit notes left on the tombstones merged into `client_id`."""
    return list(
        db.session.scalars(
            sa.select(Invoice)
            .join(Client, Client.id == Invoice.client_id)
            .where(Client.merged_into_id == client_id, Invoice.kind.in_(TAX_DOCUMENTS))
            .order_by(Invoice.issue_date, Invoice.id)
        )
    )


def resolve_tombstone(client: Client) -> Client:
    """The live client a (chain of) merged client(s) ended in."""
    seen = set()
    while client.merged_into_id is not None and client.id not in seen:
        seen.add(client.id)
        client = db.session.get(Client, client.merged_into_id)
    return client


# --- delete -------------------------------------------------------------------------


def owned_rows(client_id: int) -> dict[sa.Table, set]:
    """Every row that belongs to the client, by table (primary keys): rows whose client
    foreign key names it, and rows pointing at those (lines, renewals, sessions ...).
    A table with a client foreign key belongs only through that key."""
    clients = db.metadata.tables["clients"]
    owned: dict[sa.Table, set] = {clients: {client_id}}
    changed = True
    while changed:
        changed = False
        for table in db.metadata.sorted_tables:
            if table is clients or len(table.primary_key.columns) != 1:
                continue
            client_fks = [fk.parent for fk in table.foreign_keys if fk.column.table is clients]
            (pk,) = table.primary_key.columns
            found: set = set()
            for fk in table.foreign_keys:
                keys = owned.get(fk.column.table)
                if not keys:
                    continue
                where = [fk.parent.in_(keys)]
                if client_fks and fk.parent not in client_fks:
                    where += [column.is_(None) for column in client_fks]  # another client's row: not ours
                found |= set(db.session.scalars(sa.select(pk).where(*where)))
            if found - owned.get(table, set()):
                owned[table] = owned.get(table, set()) | found
                changed = True
    return owned


def _exists(*where) -> bool:
    return bool(db.session.scalar(sa.select(sa.exists().where(*where))))


def _deletable(client_id: int) -> Client:
    """The client, locked, if it may be deleted; raises as delete_client says."""
    client = lock_client(client_id)
    if _exists(Invoice.client_id == client.id, Invoice.kind.in_(TAX_DOCUMENTS)):
        raise Conflict(
            _(
                "Client #%(id)s has tax invoices or credit notes, which the law requires us to keep: "
                "anonymize instead.",
                id=client.id,
            )
        )
    if _exists(LedgerEntry.client_id == client.id) or _exists(Payment.client_id == client.id):
        raise Conflict(_("Client #%(id)s has account balance or payment history: anonymize instead.", id=client.id))
    if _exists(Client.merged_into_id == client.id):
        raise Conflict(_("Other clients were merged into client #%(id)s: anonymize instead.", id=client.id))
    waiting = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(ApprovalRequest)
        .where(
            ApprovalRequest.client_id == client.id,
            ApprovalRequest.kind != DELETE_KIND,  # the delete request itself is pending while it runs
            ApprovalRequest.status == ApprovalStatus.PENDING,
            ApprovalRequest.expires_at > utcnow(),
        )
    )
    if waiting:
        # Approved after the delete, they would act on a client id that no longer exists.
        raise Conflict(
            _(
                "Client #%(id)s has %(count)s change(s) waiting for approval: decide them first.",
                id=client.id,
                count=waiting,
            )
        )
    return client


def delete_client(client_id: int, *, actor: Actor) -> None:
    """Delete the client and every row it owns (owned_rows), proof files included.

    Refused with Conflict ("anonymize instead") when it has tax invoices or credit notes
    (the law keeps them), money history (ledger entries or payments: accounting records)
    or tombstones of clients merged into it; and while other four-eyes requests about it
    wait for a decision.
    """
    client = _deletable(client_id)
    _delete_proofs(client.id)
    # Four-eyes requests about the client outlive it, as the audit log does.
    db.session.execute(sa.update(ApprovalRequest).where(ApprovalRequest.client_id == client.id).values(client_id=None))
    owned = owned_rows(client.id)
    db.session.flush()
    for obj in list(db.session.identity_map.values()):  # the ORM objects about to go
        table = getattr(obj, "__table__", None)
        if table is not None and table in owned and sa.inspect(obj).identity[0] in owned[table]:
            db.session.expunge(obj)
    for table in reversed(db.metadata.sorted_tables):
        keys = owned.get(table)
        if keys:
            (pk,) = table.primary_key.columns
            db.session.execute(sa.delete(table).where(pk.in_(keys)))
    record(
        actor,
        "client.delete",
        client_id=client_id,
        target=f"client:{client_id}",
        old=f"client #{client_id}",
        new="deleted",
    )
    db.session.flush()


# --- four-eyes: merge and delete always wait for a second staff member ----------------------

MERGE_KIND, DELETE_KIND = "client.merge", "client.delete"


def request_merge(source_id: int, target_id: int, *, reason: str, actor: Actor, key: str | None = None):
    """Ask a second staff member (with "close clients") to merge `source_id` into `target_id`;
    nothing moves until approved; the same `key` (a double submit) asks once. Refused at
    once (as merge_clients) when the merge could not run now; checked again when approved.
    Returns the ApprovalRequest."""
    source, target = _mergeable(source_id, target_id)
    return approvals.submit(
        MERGE_KIND,
        {"source_id": source.id, "target_id": target.id},
        client_id=target.id,
        amount_minor=source.balance_minor or None,
        currency=target.currency,
        summary=f"Merge client #{source.id} ({source.display_name}) into client #{target.id} ({target.display_name})",
        reason=reason,
        actor=actor,
        key=key,
    )


def request_delete(client_id: int, *, reason: str, actor: Actor, key: str | None = None):
    """Ask a second staff member (with "close clients") to delete the client; refused at once
    (as delete_client) when it could not be deleted. Returns the ApprovalRequest."""
    client = _deletable(client_id)
    return approvals.submit(
        DELETE_KIND,
        {"client_id": client.id},
        client_id=client.id,
        amount_minor=None,
        currency=None,
        summary=f"Delete client #{client.id} ({client.display_name}) and all its data",
        reason=reason,
        actor=actor,
        key=key,
    )


approvals.register(
    MERGE_KIND,
    privilege=P.CLOSE_CLIENTS,
    label=_l("Merge clients"),
    run=lambda payload, actor: merge_clients(payload["source_id"], payload["target_id"], actor=actor),
    always=True,
)
approvals.register(
    DELETE_KIND,
    privilege=P.CLOSE_CLIENTS,
    label=_l("Delete client"),
    run=lambda payload, actor: delete_client(payload["client_id"], actor=actor),
    always=True,
)
