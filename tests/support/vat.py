"""A proforma with two VAT rates, made through the real service (create_proforma)."""

from __future__ import annotations

from app.clients.models import Client
from app.core.types import utcnow
from app.extensions import db
from app.invoices.models import ProformaOrigin
from app.invoices.services import LineSpec, create_proforma

STANDARD_BP = 2100
REDUCED_BP = 1100  # Romania's reduced rate (from August 2025), on the e-book line


def make_two_rate_proforma(app, client_id: int) -> str:
    """An unpaid order proforma: 2 x 10.05 hosting at the document's rate (21% for a Romanian
    buyer) and 1 x 10.05 e-book at 11%; returns its number. Nothing in the staff UI sets a line
    rate: this is the one way in so far."""
    with app.app_context():
        today = utcnow().date()
        proforma = create_proforma(
            db.session.get(Client, client_id),
            [
                LineSpec("Web hosting", 1005, quantity=2),
                LineSpec("Hosting guide (e-book)", 1005, tax_rate_bp=REDUCED_BP),
            ],
            origin=ProformaOrigin.ORDER,
            issue_date=today,
            due_date=today,
        )
        db.session.commit()
        return proforma.number
