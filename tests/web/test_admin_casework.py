"""Casework on the staff client profile: notes, files, queued invoice items, service groups
and an invoice made by hand; each audited, each refused without its privilege."""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from app.audit.models import AuditEntry
from app.billing.run import run_billing
from app.casework.models import ClientFile, ClientNote
from app.core.dates import today
from app.extensions import db
from app.hosting.models import Service, ServiceGroup
from app.invoices.models import DocumentKind, Invoice, InvoiceLine, ProformaOrigin, QueuedItem
from app.notify.models import EmailMessage
from app.staff import privileges as P
from tests.helpers import count, csrf_from, login, make_owner, make_service
from tests.support.staff import make_staff, sign_in_staff

XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
HTMX = {"HX-Request": "true", "HX-Target": "client-tabs"}
RUN = date(2026, 12, 1)


def _pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, "PNG")
    return out.getvalue()


def _staff(app, *privileges, email="clerk@example.com", name="Casey Clerk"):
    client = app.test_client()
    sign_in_staff(client, make_staff(app, *privileges, email=email, name=name))
    return client


def _token(staff, client_id: int, tab: str = "summary") -> str:
    return csrf_from(staff.get(f"/admin/clients/{client_id}/{tab}").get_data(as_text=True))


def _post(staff, url: str, data: dict, token: str, **kwargs):
    return staff.post(url, data={"csrf_token": token, **data}, headers=HTMX, **kwargs)


def _audit(app, client_id: int) -> list[tuple[str, str | None, str | None]]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(AuditEntry.action, AuditEntry.old_value, AuditEntry.new_value)
            .where(AuditEntry.client_id == client_id, AuditEntry.action != "staff.sign_in")
            .order_by(AuditEntry.id)
        ).all()
        return [tuple(row) for row in rows]


@pytest.fixture
def uploads(app, tmp_path):
    app.config["UPLOAD_FOLDER"] = str(tmp_path / "uploads")
    return tmp_path / "uploads" / "client-files"


# --- notes --------------------------------------------------------------------------------


def test_notes_are_added_pinned_on_top_escaped_with_line_breaks_and_audited(app, owner):
    staff = _staff(app, P.VIEW_CLIENTS, P.EDIT_CLIENTS)
    base = f"/admin/clients/{owner.client_id}"
    token = _token(staff, owner.client_id, "notes")
    first = _post(staff, f"{base}/notes", {"body": f"Called about {XSS}\nsecond line"}, token)
    assert first.status_code == 200 and "Note added." in first.headers["HX-Trigger"]
    _post(staff, f"{base}/notes", {"body": "Newer, not pinned"}, token)
    with app.app_context():
        first_id = db.session.scalar(sa.select(ClientNote.id).where(ClientNote.body.startswith("Called")))
    pinned = _post(staff, f"{base}/notes/{first_id}/pin", {"value": "on"}, token)
    html = pinned.get_data(as_text=True)
    assert XSS not in html and f"Called about {ESCAPED}\nsecond line" in html  # text, line break kept
    assert html.index("Called about") < html.index("Newer, not pinned")  # pinned first, though older
    assert "Casey Clerk" in html and "Pinned</span>" in html
    summary = staff.get(base).get_data(as_text=True)
    assert 'aria-label="Pinned notes"' in summary and f"Called about {ESCAPED}" in summary
    assert "Newer, not pinned" not in summary
    _post(staff, f"{base}/notes/{first_id}/pin", {"value": "off"}, token)
    assert staff.get(base).get_data(as_text=True).count('aria-label="Pinned notes"') == 0
    assert [action for action, _, _ in _audit(app, owner.client_id)] == [
        "client.note_added",
        "client.note_added",
        "client.note_pinned",
        "client.note_unpinned",
    ]
    assert _audit(app, owner.client_id)[0][2] == f"Called about {XSS}\nsecond line"


def test_an_empty_note_is_refused_beside_the_field(app, owner):
    staff = _staff(app, P.VIEW_CLIENTS, P.EDIT_CLIENTS)
    token = _token(staff, owner.client_id, "notes")
    response = _post(staff, f"/admin/clients/{owner.client_id}/notes", {"body": "   "}, token)
    assert response.status_code == 422 and "Write the note." in response.get_data(as_text=True)
    assert count(app, ClientNote) == 0 and _audit(app, owner.client_id) == []


def test_only_the_author_edits_or_deletes_a_note_anyone_with_edit_clients_pins_it(app, owner):
    author = _staff(app, P.VIEW_CLIENTS, P.EDIT_CLIENTS)
    other = _staff(app, P.VIEW_CLIENTS, P.EDIT_CLIENTS, email="other@example.com", name="Olga Other")
    base = f"/admin/clients/{owner.client_id}"
    _post(author, f"{base}/notes", {"body": "Mine"}, _token(author, owner.client_id))
    with app.app_context():
        note_id = db.session.scalar(sa.select(ClientNote.id))
    other_token = _token(other, owner.client_id, "notes")
    page = other.get(f"{base}/notes").get_data(as_text=True)
    assert "Edit or delete" not in page and "Pin on top" in page  # not offered to the other
    refused = _post(other, f"{base}/notes/{note_id}/edit", {"body": "Theirs now"}, other_token)
    assert refused.status_code == 422 and "Only the author" in refused.headers["HX-Trigger"]
    _post(other, f"{base}/notes/{note_id}/delete", {}, other_token)
    assert _post(other, f"{base}/notes/{note_id}/pin", {"value": "on"}, other_token).status_code == 200
    with app.app_context():
        note = db.session.get(ClientNote, note_id)
        assert note.body == "Mine" and note.pinned and note.edited_at is None
    token = _token(author, owner.client_id, "notes")
    assert _post(author, f"{base}/notes/{note_id}/edit", {"body": "Mine, edited"}, token).status_code == 200
    with app.app_context():
        assert db.session.get(ClientNote, note_id).body == "Mine, edited"
    assert _post(author, f"{base}/notes/{note_id}/delete", {}, token).status_code == 200
    assert count(app, ClientNote) == 0
    assert [(a, o, n) for a, o, n in _audit(app, owner.client_id)][1:] == [
        ("client.note_pinned", None, None),
        ("client.note_edited", "Mine", "Mine, edited"),
        ("client.note_deleted", "Mine, edited", None),
    ]


def test_a_note_of_another_client_is_a_404(app, owner):
    staff = _staff(app, P.VIEW_CLIENTS, P.EDIT_CLIENTS)
    other = make_owner(app, email="second@example.com")
    _post(staff, f"/admin/clients/{other.client_id}/notes", {"body": "Theirs"}, _token(staff, other.client_id))
    with app.app_context():
        note_id = db.session.scalar(sa.select(ClientNote.id))
    token = _token(staff, owner.client_id)
    assert (
        _post(staff, f"/admin/clients/{owner.client_id}/notes/{note_id}/pin", {"value": "on"}, token).status_code == 404
    )


# --- files --------------------------------------------------------------------------------


def _upload(staff, client_id: int, data: bytes, name: str, token: str, *, visible=False, content_type=None):
    fields = {"file": (io.BytesIO(data), name, content_type) if content_type else (io.BytesIO(data), name)}
    if visible:
        fields["client_visible"] = "y"
    return staff.post(
        f"/admin/clients/{client_id}/files",
        data={"csrf_token": token, **fields},
        headers=HTMX,
        content_type="multipart/form-data",
    )


def test_a_png_named_pdf_is_refused_beside_the_field_and_nothing_is_stored(app, owner, uploads):
    staff = _staff(app, P.VIEW_CLIENTS, P.EDIT_CLIENTS)
    token = _token(staff, owner.client_id, "files")
    response = _upload(staff, owner.client_id, _png(), "contract.pdf", token)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "This is not a real PDF: its content is a PNG image." in html.split('id="file-msg"', 1)[1]
    for data, name in ((b"MZ\x90\x00\x03binary", "tool.txt"), (_pdf(), "script.exe"), (b"", "empty.pdf")):
        assert _upload(staff, owner.client_id, data, name, token).status_code == 422, name
    sent_as = _upload(staff, owner.client_id, _pdf(), "a.pdf", token, content_type="image/png")
    assert sent_as.status_code == 422 and "sent as a PNG image" in sent_as.get_data(as_text=True)
    assert count(app, ClientFile) == 0 and not (uploads.exists() and any(uploads.iterdir()))
    assert _audit(app, owner.client_id) == []


def test_a_real_pdf_is_stored_under_a_random_name_and_downloads_for_staff(app, owner, uploads):
    staff = _staff(app, P.VIEW_CLIENTS, P.EDIT_CLIENTS)
    token = _token(staff, owner.client_id, "files")
    response = _upload(staff, owner.client_id, _pdf(), f"../{XSS}contract.pdf", token)
    assert response.status_code == 200 and XSS not in response.get_data(as_text=True)
    assert "Admin only" in response.get_data(as_text=True)
    with app.app_context():
        item = db.session.scalar(sa.select(ClientFile))
        file_id, stored, filename = item.id, item.stored_name, item.filename
        assert not item.client_visible and item.mimetype == "application/pdf" and item.size_bytes == len(_pdf())
    assert "/" not in filename and "<" not in filename and filename.endswith(".pdf")
    assert (uploads / stored).read_bytes() == _pdf() and len(stored) == 32
    download = staff.get(f"/admin/clients/{owner.client_id}/files/{file_id}")
    assert download.status_code == 200 and download.data == _pdf()
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    text = _upload(staff, owner.client_id, "Plain notes: ünïcode\n".encode(), "notes.txt", token)
    jpeg = io.BytesIO()
    Image.new("RGB", (4, 4)).save(jpeg, "JPEG")
    assert (
        text.status_code == 200
        and _upload(staff, owner.client_id, jpeg.getvalue(), "photo.jpg", token).status_code == 200
    )
    assert [a for a, _, _ in _audit(app, owner.client_id)] == ["client.file_uploaded"] * 3


def test_client_visible_files_are_the_owners_documents_and_nothing_else(app, owner, uploads):
    staff = _staff(app, P.VIEW_CLIENTS, P.EDIT_CLIENTS)
    token = _token(staff, owner.client_id, "files")
    _upload(staff, owner.client_id, _pdf(), "shared.pdf", token, visible=True)
    _upload(staff, owner.client_id, _pdf(), "internal.pdf", token)
    other = make_owner(app, email="second@example.com")
    _upload(staff, other.client_id, _pdf(), "theirs.pdf", _token(staff, other.client_id), visible=True)
    with app.app_context():
        ids = dict(db.session.execute(sa.select(ClientFile.filename, ClientFile.id)).all())
    browser = app.test_client()
    login(browser)
    page = browser.get("/account/documents").get_data(as_text=True)
    assert "shared.pdf" in page and "internal.pdf" not in page and "theirs.pdf" not in page
    assert 'href="/account/documents"' in page  # in the menu
    download = browser.get(f"/account/documents/{ids['shared.pdf']}")
    assert download.status_code == 200 and download.data == _pdf()
    assert download.headers["Content-Disposition"] == "attachment; filename=shared.pdf"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert browser.get(f"/account/documents/{ids['internal.pdf']}").status_code == 404
    assert browser.get(f"/account/documents/{ids['theirs.pdf']}").status_code == 404
    # Staff make the internal one visible, then the shared one admin-only.
    _post(staff, f"/admin/clients/{owner.client_id}/files/{ids['internal.pdf']}/visibility", {"value": "on"}, token)
    _post(staff, f"/admin/clients/{owner.client_id}/files/{ids['shared.pdf']}/visibility", {"value": "off"}, token)
    assert browser.get(f"/account/documents/{ids['internal.pdf']}").status_code == 200
    assert browser.get(f"/account/documents/{ids['shared.pdf']}").status_code == 404
    assert _audit(app, owner.client_id)[-2:] == [
        ("client.file_visibility", "admin only", "client-visible"),
        ("client.file_visibility", "client-visible", "admin only"),
    ]
    # Another client's file is a 404 from this client's profile too.
    assert staff.get(f"/admin/clients/{owner.client_id}/files/{ids['theirs.pdf']}").status_code == 404


# --- queued invoice items -----------------------------------------------------------------


def test_a_queued_item_goes_on_the_next_renewal_proforma_and_then_stays(app, owner):
    make_service(app, owner.client_id, due=RUN + timedelta(days=10), price_minor=1000)
    staff = _staff(app, P.VIEW_CLIENTS, P.MANAGE_BILLING)
    base = f"/admin/clients/{owner.client_id}"
    token = _token(staff, owner.client_id, "invoices")
    bad = _post(staff, f"{base}/queued-items", {"description": "Setup", "amount": "-3"}, token)
    assert bad.status_code == 422 and "Enter an amount like 50 or 50.00." in bad.get_data(as_text=True)
    added = _post(staff, f"{base}/queued-items", {"description": f"Extra IP {XSS}", "amount": "3.50"}, token)
    html = added.get_data(as_text=True)
    assert added.status_code == 200 and f"Extra IP {ESCAPED}" in html and "€3.50" in html and XSS not in html
    _post(staff, f"{base}/queued-items", {"description": "Removed before the run", "amount": "9"}, token)
    with app.app_context():
        removed_id = db.session.scalar(sa.select(QueuedItem.id).where(QueuedItem.description.startswith("Removed")))
    assert _post(staff, f"{base}/queued-items/{removed_id}/remove", {}, token).status_code == 200
    with app.app_context():
        run_billing(RUN)
        db.session.commit()
        proforma = db.session.scalar(sa.select(Invoice).where(Invoice.client_id == owner.client_id))
        lines = [(line.description, line.amount_minor) for line in proforma.lines]
        item_id = db.session.scalar(sa.select(QueuedItem.id))
    assert lines[-1] == (f"Extra IP {XSS}", 350) and len(lines) == 2 and proforma.subtotal_minor == 1350
    billed = _post(staff, f"{base}/queued-items/{item_id}/remove", {}, token)
    assert "already on proforma" in billed.headers["HX-Trigger"] and count(app, QueuedItem) == 1
    assert "Nothing queued." in staff.get(f"{base}/invoices").get_data(as_text=True)
    assert [(a, o, n) for a, o, n in _audit(app, owner.client_id)] == [
        ("client.queued_item_added", None, f"Extra IP {XSS}: €3.50"),
        ("client.queued_item_added", None, "Removed before the run: €9.00"),
        ("client.queued_item_removed", "Removed before the run: €9.00", None),
    ]


# --- service groups -----------------------------------------------------------------------


def test_service_groups_are_created_renamed_moved_into_and_hidden_on_invoices(app, owner):
    shown_id = make_service(app, owner.client_id, due=RUN + timedelta(days=10), label="shown.example")
    hidden_id = make_service(app, owner.client_id, due=RUN + timedelta(days=11), label="hidden.example")
    staff = _staff(app, P.VIEW_CLIENTS, P.EDIT_CLIENTS)
    base = f"/admin/clients/{owner.client_id}"
    token = _token(staff, owner.client_id, "services")
    for name in ("Shop", "Blog draft"):
        assert _post(staff, f"{base}/service-groups", {"name": name}, token).status_code == 200
    duplicate = _post(staff, f"{base}/service-groups", {"name": "shop"}, token)
    assert duplicate.status_code == 422 and "already has a group by that name" in duplicate.get_data(as_text=True)
    with app.app_context():
        groups = dict(db.session.execute(sa.select(ServiceGroup.name, ServiceGroup.id)).all())
    shop, blog = groups["Shop"], groups["Blog draft"]
    _post(staff, f"{base}/service-groups/{blog}/rename", {f"group{blog}-name": "Blog"}, token)
    _post(staff, f"{base}/services/{shown_id}/group", {f"service{shown_id}-group_id": str(shop)}, token)
    _post(staff, f"{base}/services/{hidden_id}/group", {f"service{hidden_id}-group_id": str(blog)}, token)
    page = _post(staff, f"{base}/service-groups/{blog}/hide", {"value": "on"}, token).get_data(as_text=True)
    assert '<tr class="group-row"><td colspan="6">Blog</td></tr>' in page and "Name hidden" in page
    other = make_owner(app, email="second@example.com")
    with app.app_context():
        foreign = ServiceGroup(client_id=other.client_id, name="Not yours")
        db.session.add(foreign)
        db.session.commit()
        foreign_id = foreign.id
    refused = _post(staff, f"{base}/services/{shown_id}/group", {f"service{shown_id}-group_id": str(foreign_id)}, token)
    assert refused.status_code == 422 and "Choose one of this client&#39;s groups." in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Service, shown_id).group_id == shop
        assert db.session.get(Service, hidden_id).group_id == blog
        run_billing(RUN)
        db.session.commit()
        lines = {
            line.service_id: line.group_name
            for line in db.session.scalars(sa.select(InvoiceLine).where(InvoiceLine.service_id.is_not(None)))
        }
        numbers = dict(db.session.execute(sa.select(InvoiceLine.service_id, Invoice.number).join(Invoice)).all())
    assert lines == {shown_id: "Shop", hidden_id: None}
    browser = app.test_client()
    login(browser)
    shown_page = browser.get(f"/invoices/{numbers[shown_id]}").get_data(as_text=True)
    hidden_page = browser.get(f"/invoices/{numbers[hidden_id]}").get_data(as_text=True)
    assert '<tr class="group group-row"><td colspan="5">Shop</td></tr>' in shown_page
    assert "group-row" not in hidden_page and "Blog" not in hidden_page
    assert [(a, o, n) for a, o, n in _audit(app, owner.client_id)] == [
        ("client.service_group_created", None, "Shop"),
        ("client.service_group_created", None, "Blog draft"),
        ("client.service_group_renamed", "Blog draft", "Blog"),
        ("client.service_moved", "no group", "Shop"),
        ("client.service_moved", "no group", "Blog"),
        ("client.service_group_hide_on_invoice", "no", "yes"),
    ]


# --- an invoice by hand -------------------------------------------------------------------


def test_an_invoice_by_hand_is_a_taxed_proforma_emailed_to_the_client(app, owner):
    staff = _staff(app, P.VIEW_CLIENTS, P.MANAGE_BILLING)
    url = f"/admin/clients/{owner.client_id}/invoices/new"
    form = staff.get(url)
    assert form.status_code == 200 and 'name="lines-0-description"' in form.get_data(as_text=True)
    token = csrf_from(form.get_data(as_text=True))
    due = today() + timedelta(days=14)
    lines = {
        "lines-0-description": f"Migration work {XSS}",
        "lines-0-quantity": "2",
        "lines-0-unit_price": "10.00",
        "lines-1-description": "SSL certificate",
        "lines-1-quantity": "1",
        "lines-1-unit_price": "5",
    }
    past = staff.post(url, data={"csrf_token": token, **lines, "due_date": (today() - timedelta(days=1)).isoformat()})
    assert past.status_code == 422 and "The due date cannot be in the past." in past.get_data(as_text=True)
    bad = staff.post(url, data={"csrf_token": token, **lines, "lines-1-quantity": "0", "due_date": due.isoformat()})
    assert bad.status_code == 422 and "A whole number from 1 to 10000." in bad.get_data(as_text=True)
    empty = staff.post(url, data={"csrf_token": token, "due_date": due.isoformat()})
    assert empty.status_code == 422 and "Add at least one line." in empty.get_data(as_text=True)
    assert count(app, Invoice) == 0
    done = staff.post(url, data={"csrf_token": token, **lines, "due_date": due.isoformat()})
    assert done.status_code == 302 and done.location.endswith(f"/admin/clients/{owner.client_id}/invoices")
    with app.app_context():
        proforma = db.session.scalar(sa.select(Invoice))
        assert proforma.kind is DocumentKind.PROFORMA and proforma.origin is ProformaOrigin.MANUAL
        assert (proforma.subtotal_minor, proforma.tax_minor, proforma.total_minor) == (2500, 525, 3025)  # RO 21%
        assert proforma.due_date == due and proforma.issue_date == today()
        assert [(li.description, li.quantity, li.unit_price_minor) for li in proforma.lines] == [
            (f"Migration work {XSS}", 2, 1000),
            ("SSL certificate", 1, 500),
        ]
        email = db.session.scalar(sa.select(EmailMessage).where(EmailMessage.template == "proforma_issued"))
        number = proforma.number
    assert email.recipients == [owner.email] and email.subject == f"Proforma {number}: €30.25 due {due:%d.%m.%Y}"
    assert "Thank you for your order" not in email.body_text and "€30.25" in email.body_text
    assert _audit(app, owner.client_id) == [("client.invoice_created", None, f"{number}: €30.25")]
    assert number in staff.get(f"/admin/clients/{owner.client_id}/invoices").get_data(as_text=True)


# --- privileges ---------------------------------------------------------------------------


def test_each_action_needs_its_privilege_and_changes_nothing_without_it(app, owner, uploads):
    service_id = make_service(app, owner.client_id, due=RUN, group="Shop")
    with app.app_context():
        group_id = db.session.scalar(sa.select(ServiceGroup.id))
    base = f"/admin/clients/{owner.client_id}"
    viewer = _staff(app, P.VIEW_CLIENTS, P.MANAGE_BILLING, email="viewer@example.com")
    clerk = _staff(app, P.VIEW_CLIENTS, P.EDIT_CLIENTS, email="editor@example.com")
    for staff, allowed_tab, refused in (
        (
            viewer,
            "notes",
            [
                ("/notes", {"body": "x"}),
                ("/notes/1/pin", {"value": "on"}),
                ("/notes/1/edit", {"body": "x"}),
                ("/notes/1/delete", {}),
                ("/files", {}),
                ("/files/1/visibility", {"value": "on"}),
                ("/service-groups", {"name": "New"}),
                (f"/service-groups/{group_id}/rename", {"name": "New"}),
                (f"/service-groups/{group_id}/hide", {"value": "on"}),
                (f"/services/{service_id}/group", {}),
            ],
        ),
        (
            clerk,
            "invoices",
            [
                ("/queued-items", {"description": "x", "amount": "1"}),
                ("/queued-items/1/remove", {}),
                ("/invoices/new", {"lines-0-description": "x", "lines-0-unit_price": "1"}),
            ],
        ),
    ):
        token = _token(staff, owner.client_id, allowed_tab)
        for path, data in refused:
            assert _post(staff, base + path, data, token).status_code == 403, path
    assert clerk.get(f"{base}/invoices/new").status_code == 403
    # What they may not do is not offered either.
    assert "Add note" not in viewer.get(f"{base}/notes").get_data(as_text=True)
    assert "Create group" not in viewer.get(f"{base}/services").get_data(as_text=True)
    assert "Upload" not in viewer.get(f"{base}/files").get_data(as_text=True)
    invoices = clerk.get(f"{base}/invoices").get_data(as_text=True)
    assert "Queue item" not in invoices and "Create invoice" not in invoices
    assert count(app, ClientNote) == 0 and count(app, QueuedItem) == 0 and count(app, Invoice) == 0
    assert count(app, ServiceGroup) == 1 and _audit(app, owner.client_id) == []
    assert not Path(app.config["UPLOAD_FOLDER"]).exists()
