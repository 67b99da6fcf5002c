"""Staff balance actions on the client profile: edit credit (one adjustment in the credit
log, no payment), add credit (a payment and its credit, paying a proforma when named), the
statement download, four-eyes above the threshold, and a bank transfer credited with
another amount than declared. The ledger verifies after each."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.approvals.models import ApprovalRequest, ApprovalStatus
from app.audit.models import AuditEntry
from app.core.types import utcnow
from app.extensions import db
from app.invoices.models import DocumentKind, Invoice, InvoiceStatus
from app.notify.models import EmailMessage
from app.staff import privileges as P
from app.wallet.models import BankTransfer, EntryKind, LedgerEntry, Payment, TransferStatus
from app.wallet.services import balance_mismatches
from tests.helpers import balance, count, credit, csrf_from, make_proforma
from tests.support.staff import make_staff, sign_in_staff

XSS = "<script>alert(1)</script>"
CLERK = (P.VIEW_CLIENTS, P.MANAGE_BILLING)

#: A small threshold keeps the amounts readable: up to 100.00 is done at once, above waits.
pytestmark = pytest.mark.app_config(FOUR_EYES_THRESHOLD_MINOR=10000, FOUR_EYES_TTL_HOURS=48)


@pytest.fixture(autouse=True)
def ledger_verifies(app):
    """Whatever a test did, every cached balance still equals the sum of its entries."""
    yield
    with app.app_context():
        assert balance_mismatches() == []


def _staff(app, *privileges, email="clerk@example.com"):
    browser = app.test_client()
    sign_in_staff(browser, make_staff(app, *privileges, email=email, name=email.split("@")[0]))
    return browser


def _form(browser, url: str) -> tuple[str, dict]:
    """The form page at `url` and its hidden values (CSRF token and one-time key)."""
    page = browser.get(url)
    assert page.status_code == 200, url
    html = page.get_data(as_text=True)
    key = html.split('name="key" type="hidden" value="', 1)[1].split('"', 1)[0]
    return html, {"csrf_token": csrf_from(html), "key": key}


def _entries(app, client_id: int) -> list[tuple]:
    with app.app_context():
        return [
            (e.kind, e.amount_minor, e.description, e.actor)
            for e in db.session.scalars(
                sa.select(LedgerEntry).where(LedgerEntry.client_id == client_id).order_by(LedgerEntry.id)
            )
        ]


def _audits(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        rows = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
        return [(r.actor, r.client_id, r.old_value, r.new_value) for r in rows]


def _staff_id(app, email: str) -> int:
    from app.staff.models import Staff

    with app.app_context():
        return db.session.scalar(sa.select(Staff.id).where(Staff.email == email))


# --- edit credit ---------------------------------------------------------------------------------


def test_edit_credit_writes_one_adjustment_and_no_payment_and_a_double_submit_adjusts_once(app, owner):
    browser = _staff(app, *CLERK)
    url = f"/admin/clients/{owner.client_id}/credit/adjust"
    tab = browser.get(f"/admin/clients/{owner.client_id}/transactions").get_data(as_text=True)
    assert f'href="{url}"' in tab and f'href="/admin/clients/{owner.client_id}/credit/add"' in tab
    html, hidden = _form(browser, url)
    assert 'name="csrf_token"' in html

    data = {**hidden, "amount": "+25.00", "reason": "Goodwill for the outage"}
    first = browser.post(url, data=data, follow_redirects=True)
    assert "Balance adjusted. The balance is now €25.00." in first.get_data(as_text=True)
    browser.post(url, data=data)  # the same form again: a double click
    assert balance(app, owner.client_id) == 2500
    staff_id = _staff_id(app, "clerk@example.com")
    assert _entries(app, owner.client_id) == [
        (EntryKind.ADJUSTMENT, 2500, "Adjustment: Goodwill for the outage", f"staff:{staff_id}")
    ]
    assert count(app, Payment) == 0
    assert _audits(app, "wallet.adjust") == [
        (f"staff:{staff_id}", owner.client_id, "€0.00", "€25.00 (+€25.00: Goodwill for the outage)")
    ]

    _, hidden = _form(browser, url)
    taken = browser.post(url, data={**hidden, "amount": "-10.00", "reason": "Correction"})
    assert taken.status_code == 302 and balance(app, owner.client_id) == 1500
    assert _entries(app, owner.client_id)[-1][:2] == (EntryKind.ADJUSTMENT, -1000)


def test_edit_credit_cannot_take_the_balance_below_zero_and_needs_a_reason(app, owner):
    credit(app, owner.client_id, 500)
    browser = _staff(app, *CLERK)
    url = f"/admin/clients/{owner.client_id}/credit/adjust"
    _, hidden = _form(browser, url)

    below = browser.post(url, data={**hidden, "amount": "-5.01", "reason": "Correction"})
    assert below.status_code == 422
    beside = below.get_data(as_text=True).split('id="amount-msg"', 1)[1].split("</div>", 1)[0]
    assert "The balance is €5.00: an adjustment cannot take it below zero." in beside
    no_reason = browser.post(url, data={**hidden, "amount": "1.00", "reason": "  "})
    assert no_reason.status_code == 422
    assert "Give a reason" in no_reason.get_data(as_text=True).split('id="reason-msg"', 1)[1]
    for bad in ("abc", "0", "1.234"):
        assert browser.post(url, data={**hidden, "amount": bad, "reason": "x"}).status_code == 422, bad
    assert balance(app, owner.client_id) == 500 and len(_entries(app, owner.client_id)) == 1
    assert _audits(app, "wallet.adjust") == []


# --- add credit ----------------------------------------------------------------------------------


def test_add_credit_records_a_payment_and_its_credit(app, owner):
    browser = _staff(app, *CLERK)
    url = f"/admin/clients/{owner.client_id}/credit/add"
    _, hidden = _form(browser, url)
    data = {**hidden, "amount": "40.00", "method": "cash", "reference": "RC-0042"}
    assert browser.post(url, data=data).status_code == 302
    browser.post(url, data=data)  # a double submit
    assert balance(app, owner.client_id) == 4000
    with app.app_context():
        [payment] = db.session.scalars(sa.select(Payment)).all()
        assert (payment.gateway, payment.external_id, payment.amount_minor, payment.status.value) == (
            "manual",
            "RC-0042",
            4000,
            "succeeded",
        )
        [entry] = db.session.scalars(sa.select(LedgerEntry)).all()
        assert (entry.kind, entry.payment_id, entry.amount_minor) == (EntryKind.TOP_UP, payment.id, 4000)
    [(_, client_id, old, new)] = _audits(app, "wallet.add_credit")
    assert (client_id, old) == (owner.client_id, "€0.00") and new.startswith("€40.00 (+€40.00 by cash")

    _, hidden = _form(browser, url)
    again = browser.post(url, data={**hidden, "amount": "40.00", "method": "cash", "reference": "RC-0042"})
    assert again.status_code == 422 and "already recorded" in again.get_data(as_text=True)
    assert balance(app, owner.client_id) == 4000


def test_add_credit_with_a_proforma_pays_it_from_the_balance(app, owner):
    number = make_proforma(app, owner.client_id, 3000)
    with app.app_context():
        due = db.session.scalar(sa.select(Invoice).where(Invoice.number == number)).balance_due_minor
    assert 2000 < due < 5000  # with VAT
    browser = _staff(app, *CLERK)
    url = f"/admin/clients/{owner.client_id}/credit/add"
    _, hidden = _form(browser, url)
    short = browser.post(
        url, data={**hidden, "amount": "20.00", "method": "bank_transfer", "reference": "OP 1", "proforma": number}
    )
    assert short.status_code == 422 and f"due on {number}" in short.get_data(as_text=True)
    assert count(app, Payment) == 0 and balance(app, owner.client_id) == 0
    wrong = {**hidden, "amount": "50.00", "method": "cash", "reference": "x", "proforma": "NO"}
    unknown = browser.post(url, data=wrong)
    assert "This client has no proforma with this number." in unknown.get_data(as_text=True)

    done = browser.post(
        url, data={**hidden, "amount": "50.00", "method": "bank_transfer", "reference": "OP 2", "proforma": number}
    )
    assert done.status_code == 302 and balance(app, owner.client_id) == 5000 - due
    with app.app_context():
        proforma = db.session.scalar(sa.select(Invoice).where(Invoice.number == number))
        assert proforma.status is InvoiceStatus.PAID
        assert db.session.scalar(
            sa.select(Invoice).where(Invoice.kind == DocumentKind.TAX_INVOICE, Invoice.source_id == proforma.id)
        )
        assert count(app, Payment, Payment.invoice_id == proforma.id) == 1
    kinds = [(kind, amount) for kind, amount, *_ in _entries(app, owner.client_id)]
    assert kinds == [(EntryKind.BANK_TRANSFER, 5000), (EntryKind.INVOICE_PAYMENT, -due)]


# --- four-eyes -----------------------------------------------------------------------------------


def _ask_adjustment(app, owner, browser, amount="150.00", reason="Refund of the outage"):
    url = f"/admin/clients/{owner.client_id}/credit/adjust"
    _, hidden = _form(browser, url)
    data = {**hidden, "amount": amount, "reason": reason}
    answer = browser.post(url, data=data, follow_redirects=True)
    assert "waiting for a second staff member" in answer.get_data(as_text=True)
    browser.post(url, data=data)  # a double submit asks once
    with app.app_context():
        [request] = db.session.scalars(sa.select(ApprovalRequest)).all()
        return request.id


def _decide(browser, request_id: int, action: str, **fields):
    page = browser.get("/admin/approvals").get_data(as_text=True)
    data = {f"r{request_id}-csrf_token": csrf_from(page), "csrf_token": csrf_from(page)}
    data |= {f"r{request_id}-{name}": value for name, value in fields.items()}
    return browser.post(f"/admin/approvals/{request_id}/{action}", data=data)


def test_an_adjustment_over_the_threshold_waits_for_a_second_staff_member(app, owner):
    requester = _staff(app, *CLERK, email="first@example.com")
    request_id = _ask_adjustment(app, owner, requester)
    assert balance(app, owner.client_id) == 0 and _entries(app, owner.client_id) == []

    own = _decide(requester, request_id, "approve", confirm="y")
    assert own.status_code == 422
    assert "another staff member must approve it" in own.get_data(as_text=True)
    assert balance(app, owner.client_id) == 0

    viewer = _staff(app, P.VIEW_CLIENTS, P.APPROVE_PAYMENTS, email="viewer@example.com")
    assert _decide(viewer, request_id, "approve", confirm="y").status_code == 403
    assert balance(app, owner.client_id) == 0

    second = _staff(app, *CLERK, email="second@example.com")
    home = second.get("/admin/").get_data(as_text=True).split('<section class="tiles"', 1)[1]
    tile = home.split('href="/admin/approvals"', 1)[1].split("</a>", 1)[0]
    assert "Approvals waiting" in tile and '<span class="tile-value">1</span>' in tile
    unticked = _decide(second, request_id, "approve")
    assert unticked.status_code == 422 and balance(app, owner.client_id) == 0
    assert _decide(second, request_id, "approve", confirm="y").status_code == 302
    assert _decide(second, request_id, "approve", confirm="y").status_code == 422  # already approved
    assert balance(app, owner.client_id) == 15000
    approver = _staff_id(app, "second@example.com")
    assert _entries(app, owner.client_id) == [
        (EntryKind.ADJUSTMENT, 15000, "Adjustment: Refund of the outage", f"staff:{approver}")
    ]
    with app.app_context():
        request = db.session.get(ApprovalRequest, request_id)
        assert (request.status, request.decided_by) == (ApprovalStatus.APPROVED, approver)
        assert request.requested_by == _staff_id(app, "first@example.com")
    assert [a[0] for a in _audits(app, "approval.request")] == [f"staff:{request.requested_by}"]
    assert [a[0] for a in _audits(app, "approval.approve")] == [f"staff:{approver}"]
    assert len(_audits(app, "wallet.adjust")) == 1


def test_a_rejected_or_expired_request_moves_nothing(app, owner):
    requester = _staff(app, *CLERK, email="first@example.com")
    second = _staff(app, *CLERK, email="second@example.com")
    expired_id = _ask_adjustment(app, owner, requester)
    with app.app_context():
        db.session.get(ApprovalRequest, expired_id).expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    page = second.get("/admin/approvals").get_data(as_text=True)
    assert '<span class="badge badge-expired">Expired</span>' in page
    refused = _decide(second, expired_id, "approve", confirm="y")
    assert refused.status_code == 422 and "This request has expired" in refused.get_data(as_text=True)
    assert balance(app, owner.client_id) == 0 and _entries(app, owner.client_id) == []

    url = f"/admin/clients/{owner.client_id}/credit/add"
    _, hidden = _form(requester, url)
    requester.post(url, data={**hidden, "amount": "500.00", "method": "cash", "reference": "BIG-1"})
    with app.app_context():
        waiting = db.session.scalar(sa.select(ApprovalRequest).where(ApprovalRequest.kind == "wallet.add_credit"))
    assert count(app, Payment) == 0 and balance(app, owner.client_id) == 0
    assert _decide(second, waiting.id, "reject", note="").status_code == 422
    assert _decide(second, waiting.id, "reject", note="No such receipt").status_code == 302
    assert _decide(second, waiting.id, "approve", confirm="y").status_code == 422
    assert count(app, Payment) == 0 and balance(app, owner.client_id) == 0
    with app.app_context():
        assert db.session.get(ApprovalRequest, waiting.id).status is ApprovalStatus.REJECTED


def test_add_credit_over_the_threshold_is_done_by_the_approval(app, owner):
    requester = _staff(app, *CLERK, email="first@example.com")
    url = f"/admin/clients/{owner.client_id}/credit/add"
    _, hidden = _form(requester, url)
    requester.post(url, data={**hidden, "amount": "500.00", "method": "bank_transfer", "reference": "OP 77"})
    assert count(app, Payment) == 0
    with app.app_context():
        request_id = db.session.scalar(sa.select(ApprovalRequest.id))
    second = _staff(app, *CLERK, email="second@example.com")
    assert _decide(second, request_id, "approve", confirm="y").status_code == 302
    assert balance(app, owner.client_id) == 50000 and count(app, Payment, Payment.external_id == "OP 77") == 1


def test_the_reason_is_escaped_on_the_approvals_page(app, owner):
    requester = _staff(app, *CLERK, email="first@example.com")
    _ask_adjustment(app, owner, requester, reason=XSS)
    page = _staff(app, P.VIEW_CLIENTS, email="reader@example.com").get("/admin/approvals").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and XSS not in page
    assert "Adjust the balance by +€150.00" in page
    assert "/approve" not in page  # a reader is offered no decision


def test_staff_without_manage_billing_get_403_on_the_forms(app, owner):
    browser = _staff(app, P.VIEW_CLIENTS, P.APPROVE_PAYMENTS, P.EDIT_CLIENTS)
    tab = browser.get(f"/admin/clients/{owner.client_id}/transactions").get_data(as_text=True)
    assert "/credit/adjust" not in tab and "/credit/add" not in tab
    token = csrf_from(browser.get("/admin/").get_data(as_text=True))
    for action in ("adjust", "add"):
        url = f"/admin/clients/{owner.client_id}/credit/{action}"
        assert browser.get(url).status_code == 403
        posted = browser.post(url, data={"csrf_token": token, "key": "k", "amount": "5", "reason": "x"})
        assert posted.status_code == 403
    assert balance(app, owner.client_id) == 0 and count(app, LedgerEntry) == 0


def test_a_post_without_csrf_is_refused(app, owner):
    browser = _staff(app, *CLERK)
    url = f"/admin/clients/{owner.client_id}/credit/adjust"
    _, hidden = _form(browser, url)
    answer = browser.post(url, data={"key": hidden["key"], "amount": "5.00", "reason": "x"})
    assert answer.status_code == 400 and balance(app, owner.client_id) == 0


# --- bank transfers with another amount ----------------------------------------------------------


def _transfer(app, client_id: int, amount_minor: int) -> int:
    from tests.factories import BankTransferFactory

    with app.app_context():
        transfer = BankTransferFactory(
            client_id=client_id, reference="BF-TEST-0009", amount_minor=amount_minor, status=TransferStatus.PENDING
        )
        db.session.commit()
        return transfer.id


def _approve_transfer(browser, transfer_id: int, **data):
    page = browser.get(f"/admin/bank-transfers/{transfer_id}").get_data(as_text=True)
    return browser.post(
        f"/admin/bank-transfers/{transfer_id}/approve", data={"csrf_token": csrf_from(page), "confirm": "y", **data}
    )


def test_a_transfer_credited_with_a_much_different_amount_waits_for_approval(app, owner):
    transfer_id = _transfer(app, owner.client_id, 50000)
    first = _staff(app, P.APPROVE_PAYMENTS, *CLERK, email="first@example.com")
    assert _approve_transfer(first, transfer_id, received="300.00").status_code == 422  # no reason
    asked = _approve_transfer(first, transfer_id, received="300.00", reason="Only part arrived")
    assert asked.status_code == 302 and balance(app, owner.client_id) == 0
    again = _approve_transfer(first, transfer_id, received="300.00", reason="Only part arrived")
    assert again.status_code == 422 and count(app, ApprovalRequest) == 1
    assert "already waits for approval" in again.get_data(as_text=True)
    page = first.get(f"/admin/bank-transfers/{transfer_id}").get_data(as_text=True)
    assert "waits for a second staff member" in page
    with app.app_context():
        request_id = db.session.scalar(sa.select(ApprovalRequest.id))
        assert db.session.get(BankTransfer, transfer_id).status is TransferStatus.PENDING
        assert count(app, EmailMessage, EmailMessage.template == "bank_transfer_credited") == 0

    billing_only = _staff(app, *CLERK, email="billing@example.com")  # no "approve payments"
    refused = _decide(billing_only, request_id, "approve", confirm="y")
    assert refused.status_code == 422 and "privilege" in refused.get_data(as_text=True)
    second = _staff(app, P.APPROVE_PAYMENTS, *CLERK, email="second@example.com")
    assert _decide(second, request_id, "approve", confirm="y").status_code == 302
    assert balance(app, owner.client_id) == 30000
    with app.app_context():
        transfer = db.session.get(BankTransfer, transfer_id)
        assert (transfer.status, transfer.received_minor) == (TransferStatus.APPROVED, 30000)
        [mail] = db.session.scalars(sa.select(EmailMessage).where(EmailMessage.template == "bank_transfer_credited"))
        assert "€300.00" in mail.subject
    # Approving the transfer itself again credits nothing more.
    assert _approve_transfer(second, transfer_id, received="500.00").status_code == 302
    assert balance(app, owner.client_id) == 30000


def test_a_small_difference_is_credited_at_once_with_its_reason(app, owner):
    transfer_id = _transfer(app, owner.client_id, 5000)
    browser = _staff(app, P.APPROVE_PAYMENTS)
    done = _approve_transfer(browser, transfer_id, received="49.50", reason="Bank fee")
    assert done.status_code == 302 and balance(app, owner.client_id) == 4950
    assert count(app, ApprovalRequest) == 0
    assert _entries(app, owner.client_id)[0][2] == "Bank transfer BF-TEST-0009: Bank fee"


# --- the statement ---------------------------------------------------------------------------------


def test_staff_download_the_statement_the_client_gets(app, owner):
    credit(app, owner.client_id, 1234)
    browser = _staff(app, P.VIEW_CLIENTS)
    pdf = browser.get(f"/admin/clients/{owner.client_id}/statement")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert f"statement-{owner.client_id}-" in pdf.headers["Content-Disposition"]
    csv = browser.get(f"/admin/clients/{owner.client_id}/statement?format=csv").get_data(as_text=True)
    assert "Opening balance" in csv and "12.34" in csv and "Closing balance" in csv
    assert browser.get("/admin/clients/999999/statement").status_code == 404
