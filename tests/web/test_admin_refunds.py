"""Refunds from the client's Transactions tab: back to the card through the gateway or to the
wallet, an outgoing payment, a credit note when the payment paid a tax invoice, once per form,
never more than is left, audited, and only for staff who manage billing."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa

from app.approvals.models import ApprovalRequest
from app.audit.models import AuditEntry
from app.core.actors import Actor
from app.extensions import db
from app.invoices.models import DocumentKind, Invoice
from app.staff import privileges as P
from app.wallet.gateways import Card
from app.wallet.models import EntryKind, LedgerEntry, Payment, PaymentDirection, PaymentStatus
from app.wallet.services import CardPayment, balance_mismatches, charge_card_to_wallet, pay_invoices
from tests.helpers import balance, csrf_from, make_proforma
from tests.support.staff import make_staff, sign_in_staff

VISA = Card("4242424242424242", 12, date.today().year + 1, "123")


def paid_by_card(app, client_id: int, amount_minor: int = 1000) -> tuple[int, str]:
    """A proforma paid by card (the pay page's path); returns the card payment's id and the tax invoice's number."""
    number = make_proforma(app, client_id, amount_minor)
    with app.app_context():
        proforma = db.session.scalar(sa.select(Invoice).where(Invoice.number == number))
        [tax_invoice] = pay_invoices(
            client_id,
            [proforma],
            by_card_minor=proforma.total_minor,
            card=CardPayment(card=VISA),
            attempt="paid-by-card",
            actor=Actor.system("test"),
        )
        db.session.commit()
        payment = db.session.scalar(sa.select(Payment).where(Payment.invoice_id == proforma.id))
        return payment.id, tax_invoice.number


def topped_up_by_card(app, client_id: int, amount_minor: int = 5000) -> int:
    with app.app_context():
        charge = charge_card_to_wallet(
            client_id, amount_minor, CardPayment(card=VISA), key="top-up-1", actor=Actor.system("test")
        )
        db.session.commit()
        return charge.payment.id


def billing_clerk(app, *privileges, email="billing@example.com"):
    client = app.test_client()
    sign_in_staff(client, make_staff(app, *(privileges or (P.VIEW_CLIENTS, P.MANAGE_BILLING)), email=email))
    return client


def refund_form(staff_client, client_id: int, payment_id: int) -> tuple[str, dict]:
    url = f"/admin/clients/{client_id}/payments/{payment_id}/refund"
    page = staff_client.get(url).get_data(as_text=True)
    key = re.search(r'id="key" name="key" type="hidden" value="([^"]+)"', page).group(1)
    return url, {"csrf_token": csrf_from(page), "key": key}


def state(app, client_id: int) -> dict:
    with app.app_context():
        count = lambda model, *where: db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))  # noqa: E731
        return {
            "out": count(Payment, Payment.direction == PaymentDirection.OUT),
            "entries": count(LedgerEntry),
            "notes": count(Invoice, Invoice.kind == DocumentKind.CREDIT_NOTE),
            "balance": balance(app, client_id),
            "audits": count(AuditEntry, AuditEntry.action == "payment.refund"),
        }


def credit_notes(app) -> list[Invoice]:
    with app.app_context():
        return db.session.scalars(sa.select(Invoice).where(Invoice.kind == DocumentKind.CREDIT_NOTE)).all()


def wallet_verifies(app) -> None:
    with app.app_context():
        assert balance_mismatches() == []
    result = app.test_cli_runner().invoke(args=["wallet", "verify"])
    assert result.exit_code == 0, result.output


def test_a_card_refund_of_a_paid_invoice_goes_through_the_gateway_and_issues_a_credit_note(app, owner):
    payment_id, tax_number = paid_by_card(app, owner.client_id)  # 12.10
    staff = billing_clerk(app)
    tab = staff.get(f"/admin/clients/{owner.client_id}/transactions").get_data(as_text=True)
    assert f'href="/admin/clients/{owner.client_id}/payments/{payment_id}/refund"' in tab
    before = state(app, owner.client_id)

    url, data = refund_form(staff, owner.client_id, payment_id)
    response = staff.post(url, data={**data, "amount": "5.00", "to": "card", "reason": "Unused month"})
    assert response.status_code == 302

    with app.app_context():
        refund = db.session.scalar(sa.select(Payment).where(Payment.direction == PaymentDirection.OUT))
        assert (refund.status, refund.amount_minor, refund.refund_of_id) == (PaymentStatus.SUCCEEDED, 500, payment_id)
        assert refund.external_id.startswith("re_test_") and refund.card_last4 == "4242"  # the test gateway's refund
        assert refund.reason == "Unused month"
        entry = db.session.scalar(
            sa.select(AuditEntry).where(AuditEntry.action == "payment.refund").order_by(AuditEntry.id.desc())
        )
        assert entry.target == f"payment:{payment_id}" and "500 EUR to the card, succeeded" in entry.new_value
    [note] = credit_notes(app)
    assert note.number.startswith("CN-") and note.total_minor == -500 and note.credit_reason == "Refund: Unused month"
    with app.app_context():
        assert db.session.get(Invoice, note.source_id).number == tax_number
        assert refund.invoice_id == note.id
    after = state(app, owner.client_id)
    # Back to the card: the balance does not move (the card paid the invoice, not the balance).
    assert (after["entries"], after["balance"], after["audits"]) == (before["entries"], before["balance"], 1)
    wallet_verifies(app)
    tab = staff.get(f"/admin/clients/{owner.client_id}/transactions").get_data(as_text=True)
    assert "Partly refunded" not in tab and "Refund</a>" in tab  # 7.10 still refundable
    assert "\u2212€5.00" in tab  # the refund, out


def test_a_wallet_refund_writes_a_refund_entry_and_a_credit_note(app, owner):
    payment_id, _ = paid_by_card(app, owner.client_id)
    staff = billing_clerk(app)
    before = balance(app, owner.client_id)
    url, data = refund_form(staff, owner.client_id, payment_id)
    assert staff.post(url, data={**data, "amount": "12.10", "to": "wallet", "reason": "Cancelled"}).status_code == 302
    with app.app_context():
        entry = db.session.scalar(sa.select(LedgerEntry).where(LedgerEntry.kind == EntryKind.REFUND))
        assert (entry.amount_minor, entry.balance_after_minor) == (1210, before + 1210)
        refund = db.session.get(Payment, entry.payment_id)
        assert (refund.direction, refund.gateway, refund.status) == (
            PaymentDirection.OUT,
            "wallet",
            PaymentStatus.SUCCEEDED,
        )
    assert balance(app, owner.client_id) == before + 1210
    [note] = credit_notes(app)
    assert (note.subtotal_minor, note.tax_minor, note.total_minor) == (-1000, -210, -1210)
    wallet_verifies(app)
    # Refunded in full: no Refund link any more, and the page refuses another.
    tab = staff.get(f"/admin/clients/{owner.client_id}/transactions").get_data(as_text=True)
    assert f"/payments/{payment_id}/refund" not in tab and "Refunded" in tab
    assert "refunded in full" in staff.get(url).get_data(as_text=True)


def test_a_card_refund_of_a_top_up_takes_it_out_of_the_balance(app, owner):
    payment_id = topped_up_by_card(app, owner.client_id, 5000)
    staff = billing_clerk(app)
    url, data = refund_form(staff, owner.client_id, payment_id)
    # A top-up is in the balance already: it goes back to the card only.
    page = staff.post(url, data={**data, "amount": "20.00", "to": "wallet", "reason": "x"}).get_data(as_text=True)
    assert "Not a valid choice" in page or "cannot be refunded to the balance" in page
    assert staff.post(url, data={**data, "amount": "20.00", "to": "card", "reason": "Asked"}).status_code == 302
    assert balance(app, owner.client_id) == 3000
    with app.app_context():
        entry = db.session.scalar(sa.select(LedgerEntry).where(LedgerEntry.kind == EntryKind.REFUND))
        assert entry.amount_minor == -2000
    assert credit_notes(app) == []
    wallet_verifies(app)


def test_more_than_paid_is_refused_beside_the_field_and_changes_nothing(app, owner):
    payment_id, _ = paid_by_card(app, owner.client_id)
    staff = billing_clerk(app)
    before = state(app, owner.client_id)
    url, data = refund_form(staff, owner.client_id, payment_id)
    response = staff.post(url, data={**data, "amount": "12.11", "to": "card", "reason": "Too much"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    amount_field = re.search(
        r'<div class="field [^"]*has-error">\s*<label[^>]*for="amount".*?</div>\s*</div>', page, re.S
    )
    assert amount_field and "Only €12.10 of this payment is left to refund." in amount_field.group(0)
    assert state(app, owner.client_id) == before


def test_a_double_submit_refunds_once(app, owner):
    payment_id, _ = paid_by_card(app, owner.client_id)
    staff = billing_clerk(app)
    url, data = refund_form(staff, owner.client_id, payment_id)
    form = {**data, "amount": "3.00", "to": "card", "reason": "Goodwill"}
    assert staff.post(url, data=form).status_code == 302
    second = staff.post(url, data=form, follow_redirects=True).get_data(as_text=True)
    assert "already made" in second
    after = state(app, owner.client_id)
    assert (after["out"], after["notes"], after["audits"]) == (1, 1, 1)


def test_a_refund_the_gateway_refuses_is_recorded_failed_and_moves_nothing(app, owner):
    payment_id, _ = paid_by_card(app, owner.client_id)
    with app.app_context():
        db.session.execute(sa.update(Payment).where(Payment.id == payment_id).values(external_id="ch_elsewhere"))
        db.session.commit()
    staff = billing_clerk(app)
    before = state(app, owner.client_id)
    url, data = refund_form(staff, owner.client_id, payment_id)
    page = staff.post(
        url, data={**data, "amount": "5.00", "to": "card", "reason": "x"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "No such charge on the test gateway." in page
    with app.app_context():
        refund = db.session.scalar(sa.select(Payment).where(Payment.direction == PaymentDirection.OUT))
        assert refund.status is PaymentStatus.FAILED and refund.failure_message == "No such charge on the test gateway."
    after = state(app, owner.client_id)
    assert (after["notes"], after["entries"], after["balance"]) == (
        before["notes"],
        before["entries"],
        before["balance"],
    )


def test_a_credit_note_by_hand_by_lines_from_the_invoices_tab(app, owner):
    _, tax_number = paid_by_card(app, owner.client_id)
    staff = billing_clerk(app)
    tab = staff.get(f"/admin/clients/{owner.client_id}/invoices").get_data(as_text=True)
    url = f"/admin/clients/{owner.client_id}/invoices/{tax_number}/credit-note"
    assert f'href="{url}"' in tab
    page = staff.get(url).get_data(as_text=True)
    line_id = re.search(r'name="qty-(\d+)"', page).group(1)
    token = csrf_from(page)
    refused = staff.post(url, data={"csrf_token": token, "mode": "lines", f"qty-{line_id}": "2", "reason": "x"})
    assert refused.status_code == 422 and "has 1 left to credit" in refused.get_data(as_text=True)
    assert credit_notes(app) == []
    left = re.search(r'id="left" name="left" type="hidden" value="(\d+)"', page).group(1)
    form = {"csrf_token": token, "left": left, "mode": "lines", f"qty-{line_id}": "1", "reason": "Not delivered"}
    assert staff.post(url, data=form).status_code == 302
    # The same page submitted again issues nothing more.
    again = staff.post(url, data={**form, "mode": "amount", "amount": "1.00"})
    assert again.status_code == 422 and "issued meanwhile" in again.get_data(as_text=True)
    [note] = credit_notes(app)
    assert note.total_minor == -1210 and note.credit_reason == "Not delivered"
    with app.app_context():
        audit = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "invoice.credit_note"))
        assert note.number in audit.new_value
    assert "credited in full" in staff.get(url).get_data(as_text=True)


def test_staff_without_manage_billing_get_403_and_no_links(app, owner):
    payment_id, tax_number = paid_by_card(app, owner.client_id)
    viewer = billing_clerk(app, P.VIEW_CLIENTS, email="viewer@example.com")
    refund_url = f"/admin/clients/{owner.client_id}/payments/{payment_id}/refund"
    note_url = f"/admin/clients/{owner.client_id}/invoices/{tax_number}/credit-note"
    token = csrf_from(viewer.get("/admin/").get_data(as_text=True))
    before = state(app, owner.client_id)
    for url in (refund_url, note_url):
        assert viewer.get(url).status_code == 403
        post = viewer.post(url, data={"csrf_token": token, "amount": "1.00", "to": "card", "reason": "x", "key": "k"})
        assert post.status_code == 403
    assert state(app, owner.client_id) == before
    assert refund_url not in viewer.get(f"/admin/clients/{owner.client_id}/transactions").get_data(as_text=True)
    assert note_url not in viewer.get(f"/admin/clients/{owner.client_id}/invoices").get_data(as_text=True)


def test_another_clients_payment_is_a_404(app, owner):
    from tests.helpers import make_owner

    other = make_owner(app, email="other@example.com")
    payment_id, _ = paid_by_card(app, owner.client_id)
    staff = billing_clerk(app)
    assert staff.get(f"/admin/clients/{other.client_id}/payments/{payment_id}/refund").status_code == 404


def test_a_gateway_that_cannot_refund_says_so_beside_the_destination_and_records_nothing(app, owner):
    from app.wallet.gateways import GatewayWithoutRefunds

    class RealGateway(GatewayWithoutRefunds):
        name = "bigbank"

    with pytest.raises(NotImplementedError, match="The bigbank gateway cannot refund from here yet"):
        RealGateway().refund("ch_1", 100)

    payment_id, _ = paid_by_card(app, owner.client_id)
    with app.app_context():
        db.session.execute(sa.update(Payment).where(Payment.id == payment_id).values(gateway="bigbank"))
        db.session.commit()
    staff = billing_clerk(app)
    before = state(app, owner.client_id)
    url, data = refund_form(staff, owner.client_id, payment_id)
    response = staff.post(url, data={**data, "amount": "1.00", "to": "card", "reason": "x"})
    assert response.status_code == 422 and "The bigbank gateway is not configured here" in response.get_data(
        as_text=True
    )
    assert state(app, owner.client_id) == before


@pytest.mark.app_config(FOUR_EYES_THRESHOLD_MINOR=1000)
def test_a_refund_over_the_threshold_waits_for_a_second_staff_member(app, owner):
    payment_id, _ = paid_by_card(app, owner.client_id)  # 12.10, over 10.00
    first = billing_clerk(app, email="first@example.com")
    url, data = refund_form(first, owner.client_id, payment_id)
    form = {**data, "amount": "12.10", "to": "wallet", "reason": "Cancelled in the first month"}
    answer = first.post(url, data=form, follow_redirects=True).get_data(as_text=True)
    assert "waiting for a second staff member" in answer
    first.post(url, data=form)  # a double submit asks once
    before = state(app, owner.client_id)
    assert (before["out"], before["notes"]) == (0, 0)
    with app.app_context():
        [request] = db.session.scalars(sa.select(ApprovalRequest)).all()
        request_id = request.id
    second = billing_clerk(app, email="second@example.com")
    page = second.get("/admin/approvals").get_data(as_text=True)
    decision = {
        f"r{request_id}-csrf_token": csrf_from(page),
        "csrf_token": csrf_from(page),
        f"r{request_id}-confirm": "y",
    }
    assert second.post(f"/admin/approvals/{request_id}/approve", data=decision).status_code == 302
    after = state(app, owner.client_id)
    assert (after["out"], after["notes"], after["balance"]) == (1, 1, before["balance"] + 1210)
    wallet_verifies(app)
