"""Guards a review of the staff money paths asked for: a refund never gives back more than
the invoice it paid, a bank transfer is credited once and in its own currency, and an
expired four-eyes request does not block a merge."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.approvals import services as approvals
from app.approvals.models import ApprovalRequest
from app.clients.models import Client
from app.core.actors import Actor
from app.core.errors import Conflict, ValidationError
from app.core.types import utcnow
from app.extensions import db
from app.invoices.models import Invoice
from app.lifecycle import services as lifecycle
from app.wallet.models import BankTransfer, TransferStatus
from app.wallet.services import (
    REFUND_TO_WALLET,
    ManualCredit,
    add_credit,
    approve_bank_transfer,
    balance_mismatches,
    change_client_currency,
    refund_payment,
    start_bank_transfer,
)
from tests.helpers import balance, make_owner, make_proforma
from tests.support.staff import make_staff


@pytest.fixture
def clerk(app):
    return Actor("staff", make_staff(app, superuser=True, email="clerk@example.com").id, "192.0.2.9")


def _waiting_adjustment(client_id: int, clerk: Actor) -> ApprovalRequest:
    """A four-eyes request about `client_id` (an adjustment of 500.00), committed by the caller."""
    return approvals.submit(
        "wallet.adjust",
        {"client_id": client_id, "amount_minor": 50000},
        client_id=client_id,
        amount_minor=50000,
        currency="EUR",
        summary="adjust",
        reason="test",
        actor=clerk,
    )


def test_a_refund_of_an_invoice_payment_is_at_most_what_the_invoice_can_still_be_credited(app, owner, clerk):
    number = make_proforma(app, owner.client_id, 1000)
    with app.app_context():
        total = db.session.scalar(sa.select(Invoice.total_minor).where(Invoice.number == number))
        # 100.00 received by hand, naming the proforma: it is paid, the rest stays in the balance.
        added = add_credit(
            owner.client_id,
            ManualCredit(10000, "bank_transfer", "STMT-1", proforma_number=number),
            key="k1",
            actor=clerk,
        )
        db.session.commit()
        payment_id = added.payment.id
    before = balance(app, owner.client_id)
    assert before == 10000 - total
    with app.app_context():
        with pytest.raises(ValidationError) as refused:
            refund_payment(payment_id, amount_minor=10000, to=REFUND_TO_WALLET, reason="oops", key="r1", actor=clerk)
        assert refused.value.field == "amount" and "left to credit" in refused.value.message
        db.session.rollback()
        refund_payment(payment_id, amount_minor=total, to=REFUND_TO_WALLET, reason="cancelled", key="r2", actor=clerk)
        db.session.commit()
        assert balance_mismatches() == []
    assert balance(app, owner.client_id) == before + total  # the invoice's money, no more


def test_a_transfer_is_credited_only_in_the_currency_it_was_declared_in(app, owner, clerk):
    with app.app_context():
        transfer = start_bank_transfer(owner.client_id, 5000)
        transfer.status = TransferStatus.PENDING
        db.session.commit()
        with pytest.raises(Conflict, match="bank transfer"):
            change_client_currency(owner.client_id, "RON", rate=None, actor=clerk)
        db.session.rollback()
        db.session.get(Client, owner.client_id).currency = "RON"  # as if changed before this rule
        db.session.commit()
        with pytest.raises(Conflict, match="declared in EUR"):
            approve_bank_transfer(transfer.id, received_minor=5000, actor=clerk)
        db.session.rollback()
    assert balance(app, owner.client_id) == 0


def test_a_transfer_reference_is_credited_once_whichever_page_is_used(app, owner, clerk):
    with app.app_context():
        transfer = start_bank_transfer(owner.client_id, 5000)
        transfer.status = TransferStatus.PENDING
        db.session.commit()
        with pytest.raises(ValidationError) as refused:
            add_credit(
                owner.client_id, ManualCredit(5000, "bank_transfer", transfer.reference.lower()), key="k", actor=clerk
            )
        assert refused.value.field == "reference"
        db.session.rollback()
        other = start_bank_transfer(owner.client_id, 3000)
        db.session.commit()
        # Credited by hand under a reference no transfer held then; the transfer is now refused.
        db.session.execute(sa.update(BankTransfer).where(BankTransfer.id == other.id).values(reference="BF-HAND-0001"))
        add_credit(owner.client_id, ManualCredit(3000, "cash", "bf-hand-0002"), key="k2", actor=clerk)
        db.session.execute(sa.update(BankTransfer).where(BankTransfer.id == other.id).values(reference="BF-HAND-0002"))
        db.session.commit()
        with pytest.raises(Conflict, match="already credited by hand"):
            approve_bank_transfer(other.id, received_minor=3000, actor=clerk)
        db.session.rollback()
    assert balance(app, owner.client_id) == 3000


def test_an_expired_request_does_not_block_a_merge(app, owner, clerk):
    source = make_owner(app, email="source@example.com")
    with app.app_context():
        request = _waiting_adjustment(source.client_id, clerk)
        request.expires_at = utcnow() - timedelta(hours=1)
        db.session.commit()
        lifecycle.merge_clients(source.client_id, owner.client_id, actor=clerk)
        db.session.commit()
        assert db.session.get(Client, source.client_id).merged_into_id == owner.client_id
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ApprovalRequest)) == 1


def test_a_client_with_a_change_waiting_for_approval_cannot_be_deleted(app, clerk):
    doomed = make_owner(app, email="doomed@example.com")
    with app.app_context():
        request = _waiting_adjustment(doomed.client_id, clerk)
        db.session.commit()
        with pytest.raises(Conflict, match="waiting for approval"):
            lifecycle.request_delete(doomed.client_id, reason="duplicate", actor=clerk)
        db.session.rollback()
        request = db.session.get(ApprovalRequest, request.id)
        request.expires_at = utcnow() - timedelta(hours=1)  # it can never run now
        db.session.commit()
        lifecycle.delete_client(doomed.client_id, actor=clerk)
        db.session.commit()
        assert db.session.get(Client, doomed.client_id) is None
