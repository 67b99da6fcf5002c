"""What hosting does when the invoices domain announces a payment: the paid services start or renew."""

from __future__ import annotations

from flask import Flask

from app.core.events import subscribe
from app.extensions import db
from app.hosting.services import services_paid
from app.invoices.models import Invoice


def on_invoice_paid(sender, *, proforma_id: int, tax_invoice_id: int) -> None:
    """Activate the ordered services and renew the renewed ones of a settled proforma
    (a free one, settled at once, too), on the tax invoice's day: the day it was paid."""
    # Both were just written by settle_proforma: the session has them, no query.
    proforma = db.session.get(Invoice, proforma_id)
    tax_invoice = db.session.get(Invoice, tax_invoice_id)
    services_paid(proforma.lines, paid_on=tax_invoice.issue_date)


def init_app(app: Flask) -> None:
    # create_app calls this before notify's init_app: services are renewed before a
    # notification handler of the same event reads them.
    subscribe("invoice_paid", on_invoice_paid)  # connecting twice is a no-op
