"""The staff home says what waits, each a link; a bank transfer is reviewed on its own page,
which names the client, asks to confirm, needs "approve payments" and is audited."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from app.audit.models import AuditEntry
from app.clients.models import Client
from app.extensions import db
from app.invoices.models import BillingRun
from app.notify.models import EmailMessage, MessageStatus
from app.staff import privileges as P
from app.wallet.models import BankTransfer, TransferStatus
from tests.factories import BankTransferFactory
from tests.helpers import balance, count, csrf_from
from tests.support.staff import make_staff, sign_in_staff

XSS = "<script>alert(1)</script>"


def _transfer(app, client_id: int, reference="BF-TEST-0001", status=TransferStatus.PENDING) -> int:
    with app.app_context():
        transfer = BankTransferFactory(client_id=client_id, reference=reference, status=status)
        db.session.commit()
        return transfer.id


def _staff_client(app, *privileges, email="clerk@example.com"):
    client = app.test_client()
    sign_in_staff(client, make_staff(app, *privileges, email=email))
    return client


def test_the_home_counts_what_waits_each_a_link(app, owner):
    _transfer(app, owner.client_id, "BF-TEST-0001")
    _transfer(app, owner.client_id, "BF-TEST-0002")
    _transfer(app, owner.client_id, "BF-TEST-0003", status=TransferStatus.AWAITING_PROOF)
    with app.app_context():
        db.session.add(
            EmailMessage(
                client_id=owner.client_id,
                recipients=["owner@example.com"],
                template="t",
                subject="Bounced",
                body_text="x",
                body_html="x",
                status=MessageStatus.FAILED,
                attempts=5,
                last_error="550 no such user",
            )
        )
        db.session.add(
            BillingRun(run_date=date(2026, 12, 1), proformas_created=12, services_suspended=3, services_terminated=1)
        )
        db.session.commit()
    staff = _staff_client(app, P.VIEW_CLIENTS, P.APPROVE_PAYMENTS, P.MANAGE_BILLING)
    page = staff.get("/admin/").get_data(as_text=True).split('<section class="tiles"', 1)[1]

    transfers = page.split('href="/admin/bank-transfers"', 1)[1].split("</a>", 1)[0]
    assert '<span class="tile-value">2</span>' in transfers and "1 more waiting for the client's proof" in transfers
    failed = page.split('href="/admin/messages/failed"', 1)[1].split("</a>", 1)[0]
    assert '<span class="tile-value">1</span>' in failed and "1 email, 0 SMS" in failed
    run = page.split('href="/admin/billing-runs"', 1)[1].split("</a>", 1)[0]
    assert "01 Dec 2026" in run and "12 proformas, 3 suspended, 1 terminated" in run

    listed = staff.get("/admin/messages/failed").get_data(as_text=True)
    assert "Bounced" in listed and "550 no such user" in listed


def test_the_review_names_the_client_and_crediting_needs_the_confirmation(app, owner):
    with app.app_context():
        db.session.get(Client, owner.client_id).name = XSS
        db.session.commit()
    transfer_id = _transfer(app, owner.client_id)
    staff = _staff_client(app, P.APPROVE_PAYMENTS)

    listing = staff.get("/admin/bank-transfers").get_data(as_text=True)
    assert f'href="/admin/bank-transfers/{transfer_id}"' in listing
    page = staff.get(f"/admin/bank-transfers/{transfer_id}").get_data(as_text=True)
    for html in (listing, page):
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and XSS not in html
        assert "owner@example.com" in html and f"client ID {owner.client_id}" in html.replace(
            '<dt>Client ID</dt><dd class="mono">', "client ID "
        )

    url = f"/admin/bank-transfers/{transfer_id}/approve"
    refused = staff.post(url, data={"csrf_token": csrf_from(page), "received": "50.00"})
    assert refused.status_code == 422
    assert "Tick this once you have found the payment on the bank statement." in refused.get_data(as_text=True)
    assert balance(app, owner.client_id) == 0 and count(app, AuditEntry, AuditEntry.action.like("bank_transfer.%")) == 0

    too_much = staff.post(
        url, data={"csrf_token": csrf_from(page), "received": "5000.01", "confirm": "y", "reason": "Typo"}
    )
    assert too_much.status_code == 422 and balance(app, owner.client_id) == 0
    assert "(10 times the declared amount)" in too_much.get_data(as_text=True)

    no_reason = staff.post(url, data={"csrf_token": csrf_from(page), "received": "49.50", "confirm": "y"})
    assert no_reason.status_code == 422 and balance(app, owner.client_id) == 0
    assert "say why a different amount is credited" in no_reason.get_data(as_text=True).split('id="reason-msg"')[1]

    done = staff.post(
        url, data={"csrf_token": csrf_from(page), "received": "49.50", "confirm": "y", "reason": "Bank fee"}
    )
    assert done.status_code == 302 and balance(app, owner.client_id) == 4950
    with app.app_context():
        [entry] = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action.like("bank_transfer.%"))).all()
        assert (entry.action, entry.client_id, entry.target) == (
            "bank_transfer.approve",
            owner.client_id,
            f"bank_transfer:{transfer_id}",
        )
        assert entry.actor_kind == "staff" and entry.actor.startswith("staff:") and entry.ip == "127.0.0.1"
        assert entry.old_value == "pending, declared 5000 EUR"
        assert entry.new_value == "approved, received 4950 EUR (Bank fee)"


def test_a_rejection_is_audited_with_its_reason(app, owner):
    transfer_id = _transfer(app, owner.client_id)
    staff = _staff_client(app, P.APPROVE_PAYMENTS)
    token = csrf_from(staff.get(f"/admin/bank-transfers/{transfer_id}").get_data(as_text=True))
    staff.post(
        f"/admin/bank-transfers/{transfer_id}/reject", data={"csrf_token": token, "reason": "Not on the statement"}
    )
    with app.app_context():
        [entry] = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action.like("bank_transfer.%"))).all()
        assert (entry.action, entry.old_value, entry.new_value) == (
            "bank_transfer.reject",
            "pending",
            "rejected: Not on the statement",
        )


def test_a_staff_sign_in_is_in_the_audit_log(app):
    staff = make_staff(app, P.VIEW_CLIENTS)
    sign_in_staff(app.test_client(), staff)
    with app.app_context():
        [entry] = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "staff.sign_in")).all()
        assert (entry.actor, entry.new_value, entry.ip) == (f"staff:{staff.id}", "totp", "127.0.0.1")


def test_staff_without_approve_payments_cannot_approve_and_nothing_changes(app, owner):
    transfer_id = _transfer(app, owner.client_id)
    staff = _staff_client(app, P.VIEW_CLIENTS, P.EDIT_CLIENTS, P.MANAGE_BILLING, P.MANAGE_STAFF)
    token = csrf_from(staff.get("/admin/").get_data(as_text=True))
    response = staff.post(
        f"/admin/bank-transfers/{transfer_id}/approve", data={"csrf_token": token, "received": "500.00", "confirm": "y"}
    )
    assert response.status_code == 403 and "Approve payments" in response.get_data(as_text=True)
    assert balance(app, owner.client_id) == 0 and count(app, AuditEntry, AuditEntry.action.like("bank_transfer.%")) == 0
    with app.app_context():
        assert db.session.get(BankTransfer, transfer_id).status is TransferStatus.PENDING
