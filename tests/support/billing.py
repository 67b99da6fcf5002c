"""Billing-run helpers: an order proforma for a new service."""

from __future__ import annotations

from datetime import date

from app.clients.models import Client
from app.extensions import db
from app.invoices.services import record_payment
from tests.helpers import make_service


def make_order(app, client_id: int, *, due: date, paid_minor: int = 0) -> tuple[int, int]:
    """An order proforma for a new (pending) service; (proforma id, service id)."""
    from app.invoices.models import ProformaOrigin
    from app.invoices.services import LineSpec, create_proforma

    service_id = make_service(app, client_id, due=None, status="pending", label=f"order-{due}.example.com")
    with app.app_context():
        proforma = create_proforma(
            db.session.get(Client, client_id),
            [LineSpec("Web hosting", 1000, service_id=service_id)],
            origin=ProformaOrigin.ORDER,
            issue_date=due,
            due_date=due,
        )
        if paid_minor:
            record_payment(proforma.id, paid_minor)
        db.session.commit()
        return proforma.id, service_id
