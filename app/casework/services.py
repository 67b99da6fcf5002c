"""Staff casework on a client's profile, each change audited in the caller's transaction:
notes, files, queued invoice items, service groups and invoices made by hand.

Who may do what (the privilege) is the access policy's business; what these check is
the rule itself: a note is edited or deleted by its author only (pinning is for any
staff member who may edit clients: a note board shared by the team), a billed queued
item stays, a file's declared type must be what its bytes are. They flush, never commit.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from flask import abort, current_app, send_file
from werkzeug.utils import secure_filename

from app.audit.services import record
from app.casework.models import ClientFile, ClientNote
from app.clients.models import Client
from app.clients.services import lock_client
from app.core.actors import Actor
from app.core.dates import today
from app.core.errors import Conflict, DomainError, ValidationError
from app.core.money import format_money
from app.core.types import utcnow
from app.extensions import db
from app.hosting.models import Service, ServiceGroup
from app.invoices.models import Invoice, ProformaOrigin, QueuedItem
from app.invoices.services import LineSpec, create_proforma
from app.wallet.uploads import read_upload, save_upload, sniff, stored_path

NOTE_MAX_CHARS = 5000
FILES_SUBFOLDER = "client-files"


class NotTheAuthor(DomainError):
    """Only the staff member who wrote a note may change or delete it."""

    status_code = 403

    def __init__(self) -> None:
        super().__init__("Only the author can change or delete this note.")


# --- notes --------------------------------------------------------------------------------


def _note_text(body: str) -> str:
    text = (body or "").replace("\r\n", "\n").strip()
    if not text:
        raise ValidationError("Write the note.", field="body")
    if len(text) > NOTE_MAX_CHARS:
        raise ValidationError(f"A note has at most {NOTE_MAX_CHARS} characters.", field="body")
    return text


def add_note(client_id: int, body: str, *, actor: Actor, pinned: bool = False) -> ClientNote:
    """A new note by staff `actor` on the client. Raises ValidationError(field="body")."""
    note = ClientNote(client_id=client_id, staff_id=actor.id, body=_note_text(body), pinned=pinned)
    db.session.add(note)
    db.session.flush()
    record(actor, "client.note_added", client_id=client_id, target=f"note:{note.id}", new=note.body)
    return note


def edit_note(note: ClientNote, body: str, *, actor: Actor) -> bool:
    """Change the text of one's own note. Returns whether it changed.
    Raises NotTheAuthor, ValidationError(field="body")."""
    _check_author(note, actor)
    text = _note_text(body)
    if text == note.body:
        return False
    record(actor, "client.note_edited", client_id=note.client_id, target=f"note:{note.id}", old=note.body, new=text)
    note.body, note.edited_at = text, utcnow()
    db.session.flush()
    return True


def delete_note(note: ClientNote, *, actor: Actor) -> None:
    """Delete one's own note (its text stays in the audit entry). Raises NotTheAuthor."""
    _check_author(note, actor)
    record(actor, "client.note_deleted", client_id=note.client_id, target=f"note:{note.id}", old=note.body)
    db.session.delete(note)
    db.session.flush()


def set_note_pinned(note: ClientNote, pinned: bool, *, actor: Actor) -> bool:
    """Pin a note on top (or unpin it): any staff member who may edit the client. Returns whether it changed."""
    if note.pinned == pinned:
        return False
    note.pinned = pinned
    record(
        actor,
        "client.note_pinned" if pinned else "client.note_unpinned",
        client_id=note.client_id,
        target=f"note:{note.id}",
    )
    db.session.flush()
    return True


def _check_author(note: ClientNote, actor: Actor) -> None:
    if actor.kind != "staff" or actor.id != note.staff_id:
        raise NotTheAuthor()


# --- files --------------------------------------------------------------------------------

#: What a client file may be: its name's extension -> the type its bytes must show.
FILE_TYPES = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".txt": "text/plain",
}
TYPE_LABELS = {
    "application/pdf": "PDF",
    "image/png": "PNG image",
    "image/jpeg": "JPEG image",
    "text/plain": "text file",
}
_TEXT_CONTROLS = set(range(32)) - {9, 10, 12, 13}  # tab, newline, form feed, carriage return are text


def _is_plain_text(data: bytes) -> bool:
    """UTF-8 text without NULs or other control characters (a binary file is neither)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not any(ord(c) in _TEXT_CONTROLS for c in text)


def file_type(data: bytes) -> str | None:
    """What the bytes are: a PDF, PNG or JPEG (checked as bank-transfer proofs are), plain text, or None."""
    return sniff(data) or ("text/plain" if _is_plain_text(data) else None)


def _declared_type(filename: str, content_type: str | None) -> str:
    """The type the upload claims by its name (and its Content-Type, when that names one we know).
    Raises ValidationError(field="file") for a name we do not take or a contradiction."""
    declared = FILE_TYPES.get(Path(filename or "").suffix.lower())
    if declared is None:
        raise ValidationError("Upload a PDF, PNG, JPEG or plain-text (.txt) file.", field="file")
    sent = (content_type or "").split(";", 1)[0].strip().lower()
    if sent in TYPE_LABELS and sent != declared:
        raise ValidationError(
            f"The file is named as a {TYPE_LABELS[declared]} but sent as a {TYPE_LABELS[sent]}.", field="file"
        )
    return declared


def _safe_name(filename: str, mimetype: str) -> str:
    name = secure_filename(filename or "")[-120:].lstrip(".")
    if not name or Path(name).suffix.lower() not in FILE_TYPES:
        name = "file" + next(ext for ext, kind in FILE_TYPES.items() if kind == mimetype)
    return name


def upload_file(
    client_id: int, stream, filename: str, *, content_type: str | None, visible: bool, actor: Actor
) -> ClientFile:
    """Store an upload on the client's profile (admin-only unless `visible`). Its type, by its
    name, must be what its bytes are. Raises ValidationError(field="file")."""
    declared = _declared_type(filename, content_type)
    data = read_upload(stream, current_app.config["CLIENT_FILE_MAX_BYTES"], field="file", missing="Choose a file.")
    actual = file_type(data)
    if actual != declared:
        what = f"a {TYPE_LABELS[actual]}" if actual else "not a file type we take"
        raise ValidationError(f"This is not a real {TYPE_LABELS[declared]}: its content is {what}.", field="file")
    stored = save_upload(data, Path(current_app.config["UPLOAD_FOLDER"]), FILES_SUBFOLDER)
    item = ClientFile(
        client_id=client_id,
        staff_id=actor.id,
        filename=_safe_name(filename, declared),
        stored_name=stored,
        mimetype=declared,
        size_bytes=len(data),
        client_visible=visible,
    )
    db.session.add(item)
    db.session.flush()
    record(
        actor,
        "client.file_uploaded",
        client_id=client_id,
        target=f"file:{item.id}",
        new=f"{item.filename} ({_visibility(visible)})",
    )
    return item


def set_file_visibility(item: ClientFile, visible: bool, *, actor: Actor) -> bool:
    """Show a file to the client (Documents) or keep it for staff. Returns whether it changed."""
    if item.client_visible == visible:
        return False
    record(
        actor,
        "client.file_visibility",
        client_id=item.client_id,
        target=f"file:{item.id}",
        old=_visibility(item.client_visible),
        new=_visibility(visible),
    )
    item.client_visible = visible
    db.session.flush()
    return True


def _visibility(visible: bool) -> str:
    return "client-visible" if visible else "admin only"


def client_documents(client_id: int) -> list[ClientFile]:
    """The files staff shared with the client, newest first."""
    return db.session.scalars(
        sa.select(ClientFile)
        .where(ClientFile.client_id == client_id, ClientFile.client_visible)
        .order_by(ClientFile.id.desc())
    ).all()


def client_document_or_404(client_id: int, file_id: int) -> ClientFile:
    """A file the client may download: theirs and client-visible; anything else is a 404."""
    item = db.session.get(ClientFile, file_id)
    if item is None or item.client_id != client_id or not item.client_visible:
        abort(404)
    return item


def send_client_file(item: ClientFile):
    """The stored file as a download (callers check who may have it)."""
    try:
        path = stored_path(Path(current_app.config["UPLOAD_FOLDER"]), FILES_SUBFOLDER, item.stored_name)
    except FileNotFoundError:
        abort(404)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=item.mimetype, as_attachment=True, download_name=item.filename, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- queued invoice items -----------------------------------------------------------------


def add_queued_item(client_id: int, description: str, amount_minor: int, *, actor: Actor) -> QueuedItem:
    """An item for the client's next proforma (the billing run's, or one made by hand).
    Raises ValidationError(field="description")."""
    text = " ".join((description or "").split())
    if not text:
        raise ValidationError("Describe the item as the invoice will show it.", field="description")
    if len(text) > 255:
        raise ValidationError("At most 255 characters.", field="description")
    client = lock_client(client_id)  # as create_proforma: an item lands on one proforma only
    item = QueuedItem(client_id=client_id, description=text, amount_minor=amount_minor)
    db.session.add(item)
    db.session.flush()
    record(
        actor,
        "client.queued_item_added",
        client_id=client_id,
        target=f"queued_item:{item.id}",
        new=f"{text}: {format_money(amount_minor, client.currency)}",
    )
    return item


def queued_items_of(client_id: int) -> list[QueuedItem]:
    """The client's items waiting for the next proforma, oldest first."""
    return db.session.scalars(
        sa.select(QueuedItem)
        .where(QueuedItem.client_id == client_id, QueuedItem.invoice_id.is_(None))
        .order_by(QueuedItem.id)
    ).all()


class ItemAlreadyBilled(Conflict):
    def __init__(self, number: str) -> None:
        super().__init__(f"This item is already on proforma {number}: it can no longer be removed.")


def remove_queued_item(item: QueuedItem, *, actor: Actor) -> None:
    """Remove an item not billed yet. Raises ItemAlreadyBilled."""
    client = lock_client(item.client_id)
    db.session.refresh(item)
    if item.invoice_id is not None:
        raise ItemAlreadyBilled(db.session.get(Invoice, item.invoice_id).number)
    record(
        actor,
        "client.queued_item_removed",
        client_id=item.client_id,
        target=f"queued_item:{item.id}",
        old=f"{item.description}: {format_money(item.amount_minor, client.currency)}",
    )
    db.session.delete(item)
    db.session.flush()


# --- service groups -----------------------------------------------------------------------


def _group_name(client_id: int, name: str, *, except_id: int | None = None) -> str:
    text = " ".join((name or "").split())
    if not text:
        raise ValidationError("Name the group.", field="name")
    if len(text) > 80:
        raise ValidationError("At most 80 characters.", field="name")
    taken = db.session.scalar(
        sa.select(ServiceGroup.id).where(
            ServiceGroup.client_id == client_id,
            sa.func.lower(ServiceGroup.name) == text.lower(),
            ServiceGroup.id != (except_id or 0),
        )
    )
    if taken:
        raise ValidationError("This client already has a group by that name.", field="name")
    return text


def create_service_group(client_id: int, name: str, *, actor: Actor) -> ServiceGroup:
    """A new service group of the client. Raises ValidationError(field="name")."""
    group = ServiceGroup(client_id=client_id, name=_group_name(client_id, name))
    db.session.add(group)
    db.session.flush()
    record(
        actor, "client.service_group_created", client_id=client_id, target=f"service_group:{group.id}", new=group.name
    )
    return group


def rename_service_group(group: ServiceGroup, name: str, *, actor: Actor) -> bool:
    """Rename a group (the next invoices print the new name). Raises ValidationError(field="name")."""
    text = _group_name(group.client_id, name, except_id=group.id)
    if text == group.name:
        return False
    record(
        actor,
        "client.service_group_renamed",
        client_id=group.client_id,
        target=f"service_group:{group.id}",
        old=group.name,
        new=text,
    )
    group.name = text
    db.session.flush()
    return True


def set_group_hidden(group: ServiceGroup, hidden: bool, *, actor: Actor) -> bool:
    """Print the group's name on the next invoices, or not. Returns whether it changed."""
    if group.hide_on_invoice == hidden:
        return False
    record(
        actor,
        "client.service_group_hide_on_invoice",
        client_id=group.client_id,
        target=f"service_group:{group.id}",
        old="yes" if group.hide_on_invoice else "no",
        new="yes" if hidden else "no",
    )
    group.hide_on_invoice = hidden
    db.session.flush()
    return True


def move_service(service: Service, group_id: int | None, *, actor: Actor) -> bool:
    """Put a service in one of its client's groups (None: in none). Returns whether it moved.
    Raises ValidationError(field="group_id") for another client's group."""
    group = db.session.get(ServiceGroup, group_id) if group_id is not None else None
    if group_id is not None and (group is None or group.client_id != service.client_id):
        raise ValidationError("Choose one of this client's groups.", field="group_id")
    if service.group_id == group_id:
        return False
    old = db.session.get(ServiceGroup, service.group_id) if service.group_id else None
    record(
        actor,
        "client.service_moved",
        client_id=service.client_id,
        target=f"service:{service.id}",
        old=old.name if old else "no group",
        new=group.name if group else "no group",
    )
    service.group_id = group_id
    db.session.flush()
    return True


# --- invoices by hand ---------------------------------------------------------------------


@dataclass(frozen=True)
class ManualLine:
    description: str
    quantity: int
    unit_price_minor: int
    tax_rate_bp: int | None = None  # a VAT rate of its own (the staff form does not ask one yet)


def create_manual_invoice(client: Client, lines: list[ManualLine], *, due_date: date, actor: Actor) -> Invoice:
    """A proforma staff wrote by hand (with the client's queued items), taxed and emailed as
    every proforma is (app.invoices.services.create_proforma). Raises ValidationError."""
    if not lines:
        raise ValidationError("Add at least one line.", field="lines")
    issued = today()
    if due_date < issued:
        raise ValidationError("The due date cannot be in the past.", field="due_date")
    proforma = create_proforma(
        client,
        [
            LineSpec(line.description, line.unit_price_minor, line.quantity, tax_rate_bp=line.tax_rate_bp)
            for line in lines
        ],
        origin=ProformaOrigin.MANUAL,
        issue_date=issued,
        due_date=due_date,
    )
    record(
        actor,
        "client.invoice_created",
        client_id=client.id,
        target=f"invoice:{proforma.id}",
        new=f"{proforma.number}: {format_money(proforma.total_minor, proforma.currency)}",
    )
    return proforma


def erase_casework(client_id: int) -> int:
    """For an anonymized account: note texts replaced by a placeholder (the timeline of who
    wrote when stays) and files deleted, from disk and their rows. Returns the files deleted."""
    db.session.execute(
        sa.update(ClientNote).where(ClientNote.client_id == client_id).values(body="(removed: account anonymized)")
    )
    files = db.session.scalars(sa.select(ClientFile).where(ClientFile.client_id == client_id)).all()
    folder = Path(current_app.config["UPLOAD_FOLDER"])
    for item in files:
        with contextlib.suppress(OSError):  # a name we did not generate: nothing of ours to delete
            stored_path(folder, FILES_SUBFOLDER, item.stored_name).unlink(missing_ok=True)
        db.session.delete(item)
    db.session.flush()
    return len(files)
