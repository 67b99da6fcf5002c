"""The invoice PDF is written in the language of whoever views it (catalog lookups)."""

from __future__ import annotations

import io

import pytest
from flask_babel import force_locale, gettext
from pypdf import PdfReader

from app.clients.models import User
from app.extensions import db
from tests.helpers import login, make_proforma


@pytest.mark.parametrize("language", ["ro"])
def test_invoice_pdf_in_the_viewers_language(app, client, owner, language):
    number = make_proforma(app, owner.client_id, 1000)
    with app.app_context():
        db.session.get(User, owner.user_id).language = language
        db.session.commit()
    login(client)
    response = client.get(f"/invoices/{number}/pdf")
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages).split())
    with app.test_request_context(), force_locale(language):
        seller, billed, price = gettext("Seller"), gettext("Billed to"), gettext("Unit price")
        numbered = gettext("No. %(number)s", number=number)
    assert (seller, billed) != ("Seller", "Billed to")
    for expected in (seller, billed, price, numbered):
        assert expected.upper() in text.upper()
    assert "Billed to" not in text and "Unit price" not in text
