"""The account lifecycle page: each action's form, typed confirmation for what cannot be
undone, the tombstone's redirect, the GDPR details PDF, and "close clients" on all of it."""

from __future__ import annotations

import io

import sqlalchemy as sa
from pypdf import PdfReader

from app.approvals.models import ApprovalRequest, ApprovalStatus
from app.audit.models import AuditEntry
from app.clients.models import Client, ClientStatus
from app.extensions import db
from app.invoices.models import DocumentKind, Invoice
from app.staff import privileges as P
from tests.helpers import credit, csrf_from, login, make_proforma, pay
from tests.support.staff import make_staff, sign_in_staff


def _staff(app, *privileges, email="closer@example.com"):
    client = app.test_client()
    sign_in_staff(client, make_staff(app, *privileges, email=email))
    return client


def _post(staff, client_id: int, action: str, **data):
    page = staff.get(f"/admin/clients/{client_id}/lifecycle")
    token = csrf_from(page.get_data(as_text=True))
    return staff.post(f"/admin/clients/{client_id}/{action}", data={"csrf_token": token, **data})


def _form_post(staff, client_id: int, action: str, **data):
    """Post a four-eyes form as shown on the page (with its one-time key)."""
    page = staff.get(f"/admin/clients/{client_id}/lifecycle").get_data(as_text=True)
    key = page.split(f'action="/admin/clients/{client_id}/{action}"', 1)[1].split('name="key"', 1)[1]
    key = key.split('value="', 1)[1].split('"', 1)[0]
    return staff.post(f"/admin/clients/{client_id}/{action}", data={"csrf_token": csrf_from(page), "key": key, **data})


def _decide(staff, request_id: int, action: str, **fields):
    page = staff.get("/admin/approvals").get_data(as_text=True)
    data = {f"r{request_id}-csrf_token": csrf_from(page), "csrf_token": csrf_from(page)}
    data |= {f"r{request_id}-{name}": value for name, value in fields.items()}
    return staff.post(f"/admin/approvals/{request_id}/{action}", data=data)


def _request(app, kind: str) -> ApprovalRequest:
    with app.app_context():
        return db.session.scalars(sa.select(ApprovalRequest).where(ApprovalRequest.kind == kind)).one()


#: Who may decide a merge or delete: the approvals page needs "manage billing", the kind "close clients".
APPROVER = (P.VIEW_CLIENTS, P.CLOSE_CLIENTS, P.MANAGE_BILLING)


def _audit(app, action: str, client_id: int) -> list[AuditEntry]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(AuditEntry).where(AuditEntry.action == action, AuditEntry.client_id == client_id)
            )
        )


def test_the_settings_tab_links_the_lifecycle_page_only_for_close_clients(app, owner):
    closer = _staff(app, P.VIEW_CLIENTS, P.CLOSE_CLIENTS)
    viewer = _staff(app, P.VIEW_CLIENTS, email="viewer@example.com")
    url = f"/admin/clients/{owner.client_id}/lifecycle"
    assert f'href="{url}"' in closer.get(f"/admin/clients/{owner.client_id}/settings").get_data(as_text=True)
    assert f'href="{url}"' not in viewer.get(f"/admin/clients/{owner.client_id}/settings").get_data(as_text=True)
    page = closer.get(url).get_data(as_text=True)
    for action in ("close", "archive", "merge", "anonymize", "delete"):
        assert f'action="/admin/clients/{owner.client_id}/{action}"' in page
    assert f'href="/admin/clients/{owner.client_id}/gdpr.pdf"' in page


def test_staff_without_close_clients_get_403_and_nothing_changes(app, owner):
    viewer = _staff(app, P.VIEW_CLIENTS, P.EDIT_CLIENTS, email="viewer@example.com")
    token = csrf_from(viewer.get("/admin/").get_data(as_text=True))
    for action in ("close", "archive", "anonymize", "delete"):
        response = viewer.post(
            f"/admin/clients/{owner.client_id}/{action}", data={"csrf_token": token, "confirm": owner.client_id}
        )
        assert response.status_code == 403, action
    for path in ("lifecycle", "gdpr.pdf"):
        assert viewer.get(f"/admin/clients/{owner.client_id}/{path}").status_code == 403
    with app.app_context():
        assert db.session.get(Client, owner.client_id).status is ClientStatus.ACTIVE


def test_close_is_audited_and_the_closed_client_cannot_log_in(app, owner):
    closer = _staff(app, P.CLOSE_CLIENTS)
    response = _post(closer, owner.client_id, "close", terminate_services="y")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Client, owner.client_id).status is ClientStatus.CLOSED
    [entry] = _audit(app, "client.close", owner.client_id)
    assert (entry.old_value, entry.new_value, entry.actor_kind) == ("active", "closed", "staff")
    browser = app.test_client()
    login(browser, owner.email, owner.password)
    assert browser.get("/").status_code in (302, 401)
    assert "/login" in (browser.get("/").location or "")
    # Reopened, the owner signs in again.
    assert _post(closer, owner.client_id, "reopen").status_code == 302
    assert login(app.test_client(), owner.email, owner.password).status_code == 302


def test_anonymize_and_delete_need_the_client_id_typed(app, owner):
    closer = _staff(app, P.CLOSE_CLIENTS)
    for action in ("anonymize", "delete"):
        response = _post(closer, owner.client_id, action, confirm="yes")
        assert response.status_code == 422
        assert f"Type {owner.client_id} to confirm." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Client, owner.client_id).status is ClientStatus.ACTIVE


def test_delete_refuses_a_client_with_tax_invoices_and_waits_for_a_second_staff_member(app, owner, other):
    pay(app, make_proforma(app, owner.client_id, 1200))
    first = _staff(app, *APPROVER, email="first@example.com")
    second = _staff(app, *APPROVER, email="second@example.com")
    response = _form_post(first, owner.client_id, "delete", reason="Asked by mail", confirm=str(owner.client_id))
    assert response.status_code == 422
    assert "anonymize instead" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Client, owner.client_id) is not None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ApprovalRequest)) == 0
    no_reason = _form_post(first, other.client_id, "delete", confirm=str(other.client_id))
    assert no_reason.status_code == 422 and "Give a reason" in no_reason.get_data(as_text=True)

    response = _form_post(first, other.client_id, "delete", reason="Test account", confirm=str(other.client_id))
    assert response.status_code == 302
    request = _request(app, "client.delete")
    with app.app_context():
        assert db.session.get(Client, other.client_id) is not None  # nothing moves before approval
    page = first.get(f"/admin/clients/{other.client_id}/lifecycle").get_data(as_text=True)
    assert "Waiting for a second staff member" in page and "Test account" in page
    own = _decide(first, request.id, "approve", confirm="y")
    assert own.status_code == 422 and "another staff member must approve it" in own.get_data(as_text=True)
    assert _decide(second, request.id, "approve", confirm="y").status_code == 302
    with app.app_context():
        assert db.session.get(Client, other.client_id) is None
        decided = db.session.get(ApprovalRequest, request.id)
        assert decided.status is ApprovalStatus.APPROVED and decided.client_id is None  # the record outlives it
    assert [e.new_value for e in _audit(app, "client.delete", other.client_id)] == ["deleted"]


def test_merge_from_the_page_and_the_tombstone_url_redirects(app, owner, other):
    tax_number = pay(app, make_proforma(app, other.client_id, 1200))
    credit(app, other.client_id, 2500)
    closer = _staff(app, *APPROVER)
    second = _staff(app, *APPROVER, email="second@example.com")
    response = _form_post(
        closer,
        owner.client_id,
        "merge",
        source_id=str(other.client_id),
        reason="Same company",
        confirm=str(owner.client_id),
    )
    assert response.status_code == 302
    request = _request(app, "client.merge")
    with app.app_context():
        assert db.session.get(Client, other.client_id).merged_into_id is None  # waiting
    assert _decide(second, request.id, "approve", confirm="y").status_code == 302
    with app.app_context():
        assert db.session.get(Client, other.client_id).merged_into_id == owner.client_id
        assert db.session.get(Client, owner.client_id).balance_minor == 2500
    for old, new in (
        (f"/admin/clients/{other.client_id}", f"/admin/clients/{owner.client_id}"),
        (f"/admin/clients/{other.client_id}/invoices", f"/admin/clients/{owner.client_id}/invoices"),
        (f"/admin/clients/{other.client_id}/lifecycle", f"/admin/clients/{owner.client_id}/lifecycle"),
    ):
        redirect = closer.get(old)
        assert redirect.status_code == 302 and redirect.location.endswith(new), old
    page = closer.get(f"/admin/clients/{owner.client_id}/lifecycle").get_data(as_text=True)
    assert "Clients merged into this one" in page and tax_number in page
    assert len(_audit(app, "client.merge", owner.client_id)) == 1
    assert app.test_cli_runner().invoke(args=["wallet", "verify"]).exit_code == 0


def test_merge_with_another_currency_is_refused_beside_the_field(app, owner, other):
    with app.app_context():
        db.session.get(Client, other.client_id).currency = "USD"
        db.session.commit()
    closer = _staff(app, P.CLOSE_CLIENTS)
    response = _form_post(
        closer,
        owner.client_id,
        "merge",
        source_id=str(other.client_id),
        reason="Same company",
        confirm=str(owner.client_id),
    )
    assert response.status_code == 422
    assert "same currency" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Client, other.client_id).merged_into_id is None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ApprovalRequest)) == 0


def test_the_gdpr_pdf_holds_the_clients_data_and_is_audited(app, owner):
    number = make_proforma(app, owner.client_id, 1500)
    tax_number = pay(app, number)
    closer = _staff(app, P.CLOSE_CLIENTS)
    response = closer.get(f"/admin/clients/{owner.client_id}/gdpr.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    with app.app_context():
        client = db.session.get(Client, owner.client_id)
        name = client.name
        kinds = set(db.session.scalars(sa.select(Invoice.kind).where(Invoice.client_id == client.id)))
    assert DocumentKind.TAX_INVOICE in kinds
    assert name in text and owner.email in text and tax_number in text and number in text
    assert f"Data held about client {owner.client_id}" in text
    assert len(_audit(app, "client.gdpr_pdf", owner.client_id)) == 1
