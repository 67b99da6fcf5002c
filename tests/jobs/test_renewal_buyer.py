"""Renewals and orders build the buyer the same way: a private person is billed
without a company name, whatever stale company field the client still holds."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from app.account.models import Client
from app.billing.run import run_billing
from app.extensions import db
from app.invoices.models import Invoice, ProformaOrigin
from app.invoices.services import BUYER_COLUMNS, LineSpec, create_proforma
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
