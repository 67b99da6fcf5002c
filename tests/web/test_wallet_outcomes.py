"""Wallet answers say what happened: a repeat changes nothing and says so; the client
is emailed when a bank transfer is credited or rejected, and for each card top-up."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.clients.models import User
from app.extensions import db
from app.notify.models import EmailMessage
from app.staff import privileges as P
from app.wallet.models import BankTransfer, TransferStatus
from tests.helpers import balance, csrf_from, login, make_proforma, pay
from tests.support.staff import make_staff, sign_in_staff
from tests.support.trusted import add_notified
from tests.support.wallet import PDF, add_funds, card, form_values, start_transfer, upload


def emails(app, template: str, client_id: int) -> list[EmailMessage]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(EmailMessage)
            .where(EmailMessage.template == template, EmailMessage.client_id == client_id)
            .order_by(EmailMessage.id)
        ).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def flashes(html: str) -> str:
    return " ".join(re.sub(r"\s+", " ", html).split())


def staff_client(app, runner):
    staff = app.test_client()
    sign_in_staff(staff, make_staff(app, P.APPROVE_PAYMENTS))
    return staff


@pytest.fixture
def pending_transfer(app, client, owner, tmp_path):
    app.config["UPLOAD_FOLDER"] = str(tmp_path / "uploads")
    login(client)
    transfer_id, _ = start_transfer(client)
    assert upload(client, transfer_id, PDF, "proof.pdf").status_code == 302
    with app.app_context():
        return db.session.get(BankTransfer, transfer_id).reference, transfer_id


def test_approving_twice_says_the_second_time_that_nothing_changed_and_emails_once(
    app, owner, runner, pending_transfer
):
    reference, transfer_id = pending_transfer
    add_notified(app, owner.client_id, "payer@example.com", ["wallet"], ["payments"])
    add_notified(app, owner.client_id, "viewer@example.com", ["invoices.view"], ["payments"])  # no wallet permission
    staff = staff_client(app, runner)
    token = csrf_from(staff.get(f"/admin/bank-transfers/{transfer_id}").get_data(as_text=True))
    url = f"/admin/bank-transfers/{transfer_id}/approve"

    first = staff.post(url, data={"csrf_token": token, "received": "50.00", "confirm": "y"}, follow_redirects=True)
    assert f"{reference} approved: the balance was credited" in flashes(first.get_data(as_text=True))
    second = staff.post(url, data={"csrf_token": token, "received": "50.00", "confirm": "y"}, follow_redirects=True)
    page = flashes(second.get_data(as_text=True))
    assert f"{reference} was already approved and credited; nothing changed." in page
    assert "approved: the balance was credited" not in page
    assert balance(app, owner.client_id) == 5000

    sent = emails(app, "bank_transfer_credited", owner.client_id)
    assert sorted(r for m in sent for r in m.recipients) == ["owner@example.com", "payer@example.com"]
    assert reference in sent[0].subject and "€50.00" in sent[0].subject
    assert "New balance:      €50.00" in sent[0].body_text


def test_a_rejection_needs_a_reason_emails_it_and_says_so_when_repeated(app, owner, runner, pending_transfer):
    reference, transfer_id = pending_transfer
    staff = staff_client(app, runner)
    page = staff.get(f"/admin/bank-transfers/{transfer_id}").get_data(as_text=True)
    token = csrf_from(page)
    assert 'name="reason"' in page
    url = f"/admin/bank-transfers/{transfer_id}/reject"

    refused = staff.post(url, data={"csrf_token": token, "reason": "  "})
    assert refused.status_code == 422
    assert '<p class="error">Tell the client why.</p>' in refused.get_data(as_text=True)
    assert emails(app, "bank_transfer_rejected", owner.client_id) == []

    staff.post(url, data={"csrf_token": token, "reason": "No such payment reached our account"})
    again = staff.post(url, data={"csrf_token": token, "reason": "Other reason"}, follow_redirects=True)
    assert f"{reference} was already rejected; nothing changed." in flashes(again.get_data(as_text=True))
    with app.app_context():
        transfer = db.session.get(BankTransfer, transfer_id)
        assert transfer.status is TransferStatus.REJECTED
        assert transfer.rejection_reason == "No such payment reached our account"
    [sent] = emails(app, "bank_transfer_rejected", owner.client_id)
    assert sent.recipients == ["owner@example.com"] and reference in sent.subject
    assert "Reason: No such payment reached our account" in sent.body_text
    assert "No such payment reached our account" in sent.body_html
    assert balance(app, owner.client_id) == 0


def test_a_repeated_top_up_says_already_credited_and_sends_one_receipt(app, client, owner):
    with app.app_context():
        db.session.get(User, owner.user_id).client.timezone = "Asia/Kolkata"
        db.session.commit()
    login(client)
    _, data = add_funds(client, "150.00")
    assert "your balance was credited" in client.get("/wallet").get_data(as_text=True)
    replay = client.post("/wallet/add-funds", data=data, follow_redirects=True)  # double submit, same key
    page = flashes(replay.get_data(as_text=True))
    assert "this payment was already credited to your balance; nothing changed." in page
    assert "your balance was credited" not in page
    assert balance(app, owner.client_id) == 15000

    [receipt] = emails(app, "top_up_receipt", owner.client_id)
    assert receipt.recipients == ["owner@example.com"] and "€150.00" in receipt.subject
    text = receipt.body_text
    assert "New balance:  €150.00" in text and "Visa •••• 4242" in text
    assert re.search(r"Reference:\s+\S+", text)
    assert re.search(r"Date:\s+\d{2} \w+ \d{4}, \d{2}:\d{2} IST", text)  # the client's zone


def test_paying_an_invoice_by_card_sends_the_tax_invoice_receipt_not_a_top_up_receipt(app, client, owner):
    number = make_proforma(app, owner.client_id, 1000)
    login(client)
    html = client.get(f"/invoices/pay?invoice={number}&refresh=1").get_data(as_text=True)
    expected = re.search(r'name="expected_card_minor" type="hidden" value="(\d*)"', html).group(1)
    response = client.post(
        "/invoices/pay", data={**form_values(html), "invoice": [number], "expected_card_minor": expected, **card()}
    )
    assert response.status_code == 302
    assert emails(app, "top_up_receipt", owner.client_id) == []
    assert len(emails(app, "payment_receipt", owner.client_id)) == 1


@pytest.mark.parametrize("state", ["paid", "cancelled"])
def test_a_settled_proforma_offers_no_billing_edit(app, client, owner, state):
    from app.invoices.models import Invoice, InvoiceStatus

    number = make_proforma(app, owner.client_id, 1000)
    if state == "paid":
        pay(app, number)
    else:
        with app.app_context():
            db.session.scalar(sa.select(Invoice).where(Invoice.number == number)).status = InvoiceStatus.CANCELLED
            db.session.commit()
    login(client)
    view = client.get(f"/invoices/{number}").get_data(as_text=True)
    assert f"/invoices/{number}/billing" not in view
    response = client.get(f"/invoices/{number}/billing")
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert f"Proforma {number} is {state}: its billing details can no longer be changed." in html
    assert 'name="name"' not in html
