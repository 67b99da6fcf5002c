"""The wallet under concurrent requests, on PostgreSQL and on SQLite (the embedded default)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from app.extensions import db
from app.invoices.models import Invoice, InvoiceStatus
from app.wallet.models import EntryKind, LedgerEntry
from app.wallet.services import InsufficientFunds, pay_invoices_from_wallet, post_entry
from tests.helpers import balance, credit, make_owner, make_proforma
from tests.support.concurrency import run_together


def test_twenty_concurrent_payments_of_one_invoice_pay_it_once(app):
    owner = make_owner(app)
    number = make_proforma(app, owner.client_id, 10000)  # 121.00
    credit(app, owner.client_id, 15000)  # covers it once
    with app.app_context():
        invoice_id = db.session.scalar(sa.select(Invoice.id).where(Invoice.number == number))

    errors = run_together(
        app,
        [
            lambda: pay_invoices_from_wallet(owner.client_id, [invoice_id], key=uuid.uuid4().hex, actor="user:1")
            for _ in range(20)
        ],
    )

    assert len(errors) == 19 and all(type(e).__name__ == "InvoiceNotPayable" for e in errors)
    assert balance(app, owner.client_id) == 15000 - 12100
    with app.app_context():
        payments = db.session.scalar(
            sa.select(sa.func.count(LedgerEntry.id)).where(LedgerEntry.kind == EntryKind.INVOICE_PAYMENT)
        )
        assert payments == 1
        assert db.session.get(Invoice, invoice_id).status is InvoiceStatus.PAID


def test_paying_two_invoices_at_once_from_a_balance_that_covers_one_pays_one(app):
    owner = make_owner(app)
    numbers = [make_proforma(app, owner.client_id, 10000) for _ in range(2)]  # 121.00 each
    credit(app, owner.client_id, 15000)
    with app.app_context():
        ids = db.session.scalars(sa.select(Invoice.id).where(Invoice.number.in_(numbers))).all()

    errors = run_together(
        app,
        [
            lambda invoice_id=invoice_id: pay_invoices_from_wallet(
                owner.client_id, [invoice_id], key=uuid.uuid4().hex, actor="user:1"
            )
            for invoice_id in ids
        ],
    )

    assert [type(e) for e in errors] == [InsufficientFunds]
    assert balance(app, owner.client_id) == 15000 - 12100
    with app.app_context():
        paid = db.session.scalar(
            sa.select(sa.func.count(Invoice.id)).where(Invoice.id.in_(ids), Invoice.status == InvoiceStatus.PAID)
        )
        assert paid == 1
        assert db.session.scalar(sa.select(sa.func.sum(LedgerEntry.amount_minor))) == 15000 - 12100


def test_concurrent_top_ups_and_spends_keep_balance_equal_to_the_ledger(app, runner):
    owner = make_owner(app)
    credit(app, owner.client_id, 1000)

    def move(amount):
        return lambda: post_entry(
            owner.client_id, amount, EntryKind.ADJUSTMENT, key=uuid.uuid4().hex, actor="staff:1", description="t"
        )

    jobs = [move(500) for _ in range(10)] + [move(-700) for _ in range(10)]
    errors = run_together(app, jobs)

    assert all(isinstance(e, InsufficientFunds) for e in errors)
    with app.app_context():
        total = db.session.scalar(sa.select(sa.func.sum(LedgerEntry.amount_minor)))
        assert total == balance(app, owner.client_id) >= 0
        assert total == 1000 + 10 * 500 - 700 * (10 - len(errors))
    assert runner.invoke(args=["wallet", "verify"]).exit_code == 0


def test_a_replayed_key_credits_once_even_concurrently(app):
    owner = make_owner(app)
    key = uuid.uuid4().hex

    def replay():
        post_entry(owner.client_id, 5000, EntryKind.TOP_UP, key=key, actor="gateway:test", description="callback")

    errors = run_together(app, [replay for _ in range(8)])
    assert errors == []
    assert balance(app, owner.client_id) == 5000
