"""Buyers of each kind an e-invoice must handle, and a paid tax invoice for one (the real order and settle paths)."""

from __future__ import annotations

from app.clients.models import Client, ClientKind
from app.extensions import db
from app.invoices.vies import verify
from tests.helpers import make_owner, make_proforma, pay

RO_COMPANY = {
    "kind": ClientKind.ORGANIZATION,
    "company_name": "Popescu Web SRL",
    "tax_id": "RO18547290",
    "address_line1": "Str. Lalelelor 12",
    "city": "Cluj-Napoca",
    "region": "Cluj",
    "postcode": "400001",
    "country": "RO",
}
RO_PERSON = {
    "kind": ClientKind.PERSON,
    "address_line1": "Bd. Unirii 5",
    "city": "Sector 3",
    "region": "București",
    "postcode": "030167",
    "country": "RO",
}
EU_COMPANY = {  # reverse charge: VIES_OFFLINE_VALID in TestingConfig
    "kind": ClientKind.ORGANIZATION,
    "company_name": "Müller Webdesign GmbH",
    "tax_id": "DE136695976",
    "address_line1": "Hauptstraße 1",
    "city": "Berlin",
    "postcode": "10115",
    "country": "DE",
}
US_COMPANY = {  # outside the scope of EU VAT
    "kind": ClientKind.ORGANIZATION,
    "company_name": "Acme Hosting Inc.",
    "tax_id": "12-3456789",
    "address_line1": "1 Market St",
    "city": "San Francisco",
    "region": "CA",
    "postcode": "94105",
    "country": "US",
}


def tax_invoice_for(app, details: dict, *, currency: str = "EUR", email: str = "buyer@example.com") -> str:
    """A paid tax invoice for a new client billed with `details`, through the real order and settle paths."""
    owner = make_owner(app, email=email, kind=details["kind"], country=details["country"])
    with app.app_context():
        client = db.session.get(Client, owner.client_id)
        for field, value in details.items():
            setattr(client, field, value)
        client.currency = currency
        db.session.commit()
        if details["country"] == "DE":
            assert verify(details["tax_id"]).status.value == "valid"  # VIES (offline in tests): reverse charge
    return pay(app, make_proforma(app, owner.client_id, 4990, "Web hosting Pro, 1 month"))
