"""The invoice list's "All" tab lists every document of the client, paid proformas included."""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.extensions import db
from app.invoices.models import Invoice, InvoiceStatus
from tests.helpers import login, make_owner, make_proforma, pay


def listed(html: str) -> set[str]:
    return set(re.findall(r'<a class="strong" href="/invoices/[^"]+">([^<]+)</a>', html))


def test_all_lists_paid_and_cancelled_proformas_and_tax_invoices(app, client, owner):
    unpaid = make_proforma(app, owner.client_id, 1000)
    paid = make_proforma(app, owner.client_id, 2000)
    tax_number = pay(app, paid)
    cancelled = make_proforma(app, owner.client_id, 3000)
    other = make_owner(app, email="other@example.com")
    theirs = make_proforma(app, other.client_id, 4000)
    with app.app_context():
        db.session.scalar(sa.select(Invoice).where(Invoice.number == cancelled)).status = InvoiceStatus.CANCELLED
        db.session.commit()
    login(client)

    everything = client.get("/invoices").get_data(as_text=True)
    explicit = client.get("/invoices?status=all", headers={"HX-Request": "true"}).get_data(as_text=True)

    assert listed(everything) == {unpaid, paid, tax_number, cancelled}, "the paid proforma stays listed"
    assert listed(explicit) == listed(everything)
    assert theirs not in everything
    row = re.search(rf">{re.escape(paid)}</a>.*?</tr>", everything, re.S).group(0)
    assert '<span class="badge badge-paid">Paid</span>' in row
