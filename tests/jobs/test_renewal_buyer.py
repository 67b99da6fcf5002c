"""Renewals and orders build the buyer the same way: a private person is billed
without a company name, whatever stale company field the client still holds."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from app.billing.run import run_billing
from app.clients.models import Client
from app.extensions import db
from app.invoices.models import BillingProfile, Invoice, ProformaOrigin
from app.invoices.services import BUYER_COLUMNS, BuyerDetails, LineSpec, create_proforma
from tests.helpers import make_owner, make_service

RUN = date(2026, 12, 1)


def test_a_private_clients_renewal_has_no_company_like_its_order(app):
    owner = make_owner(app)
    with app.app_context():
        # A person who was once billed as a company: the old name is still stored.
        db.session.get(Client, owner.client_id).company_name = "Old Company SRL"
        db.session.commit()
    make_service(app, owner.client_id, due=RUN + timedelta(days=14), label="site.ro")

    with app.app_context():
        run_billing(RUN)
        client = db.session.get(Client, owner.client_id)
        order = create_proforma(
            client, [LineSpec("Hosting", 1000)], origin=ProformaOrigin.ORDER, issue_date=RUN, due_date=RUN
        )
        db.session.commit()
        renewal = db.session.scalar(sa.select(Invoice).where(Invoice.origin == "renewal"))

        assert renewal.buyer_company is None
        assert {c: getattr(renewal, c) for c in BUYER_COLUMNS} == {c: getattr(order, c) for c in BUYER_COLUMNS}


def test_renewals_and_orders_bill_the_same_one_of_two_default_payers(app):
    """Should a client hold two default payers, a renewal and an order both go to the
    first one (as default_payer picks it), not one each."""
    owner = make_owner(app)
    with app.app_context():
        client = db.session.get(Client, owner.client_id)
        payers = [
            BillingProfile(client_id=client.id, is_default=True, **{**BuyerDetails.of(client).__dict__, "name": name})
            for name in ("First Payer", "Second Payer")
        ]
        db.session.add_all(payers)
        db.session.commit()
        first = min(p.id for p in payers)
    make_service(app, owner.client_id, due=RUN + timedelta(days=14), label="site.ro")

    with app.app_context():
        run_billing(RUN)
        order = create_proforma(
            db.session.get(Client, owner.client_id),
            [LineSpec("Hosting", 1000)],
            origin=ProformaOrigin.ORDER,
            issue_date=RUN,
            due_date=RUN,
        )
        db.session.commit()
        renewal = db.session.scalar(sa.select(Invoice).where(Invoice.origin == "renewal"))

        assert (renewal.payer_id, renewal.buyer_name) == (order.payer_id, order.buyer_name) == (first, "First Payer")
