"""Fixtures for the client-area tests."""

from __future__ import annotations

from datetime import date

import pytest

from app.extensions import db
from tests.factories import BankTransferFactory
from tests.helpers import make_proforma, make_service


@pytest.fixture
def world(app, owner):
    """An owner with an invoice, a service, a bank transfer; trusted users get added per test.
    `values` fills the arguments of every client-area route."""
    number = make_proforma(app, owner.client_id, 1000)
    service_id = make_service(app, owner.client_id, due=date(2026, 12, 1))
    with app.app_context():
        transfer = BankTransferFactory(client_id=owner.client_id)
        db.session.commit()
        transfer_id = transfer.id
    return {
        "owner": owner,
        "values": {
            "number": number,
            "service_id": service_id,
            "transfer_id": transfer_id,
            "user_id": owner.user_id,
            "token": "not-a-real-token",
            "gateway": "test",
            "file_id": 1,
        },
    }
