"""Privacy self-service: the owner's data export (JSON, PDF) and erasure requests."""

from __future__ import annotations

import io
import json

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from app.access.policy import PERMISSIONS
from app.clients.models import ProfileChange, User
from app.extensions import db
from app.notify.models import EmailMessage
from app.profile.models import ErasureRequest
from app.wallet.models import Payment, PaymentStatus, SavedCard
from tests.factories import TrustedUserFactory
from tests.helpers import count, credit, csrf_token, login, make_owner, make_proforma, pay

CARD_TOKEN = "tok_secret_4f9a1c"


@pytest.fixture
def history(app, owner):
    """An account with invoices, balance movements, a card payment, a saved card,
    a trusted user with 2FA and a change in its log; returns the invoice numbers."""
    proforma = make_proforma(app, owner.client_id, 2500, description="Web Hosting Pro - example.ro")
    tax_invoice = pay(app, proforma)
    credit(app, owner.client_id, 5000)
    with app.app_context():
        db.session.add_all(
            [
                Payment(
                    client_id=owner.client_id,
                    gateway="test",
                    idempotency_key="pay-1",
                    amount_minor=5000,
                    currency="EUR",
                    status=PaymentStatus.SUCCEEDED,
                    card_brand="Visa",
                    card_last4="4242",
                ),
                SavedCard(
                    client_id=owner.client_id,
                    gateway="test",
                    token=CARD_TOKEN,
                    brand="MasterCard",
                    last4="4444",
                    exp_month=12,
                    exp_year=2031,
                ),
                trusted_user(owner, ["invoices.view"], totp_secret="JBSWY3DPEHPK3PXP"),
                ProfileChange(
                    client_id=owner.client_id,
                    user_id=owner.user_id,
                    actor=f"user:{owner.user_id}",
                    field="city",
                    old_value=None,
                    new_value="Cluj-Napoca",
                    ip="127.0.0.1",
                ),
            ]
        )
        db.session.commit()
    return {proforma, tax_invoice}


def trusted_user(owner, permissions: list[str], email: str = "helper@example.com", **fields) -> User:
    """A trusted user row of the owner's client, not yet added to the session."""
    return TrustedUserFactory.build(
        client_id=owner.client_id,
        permissions=permissions,
        email=email,
        password="helper-password-1",
        name="Maria Helper",
        **fields,
    )


def password_hashes(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(User.password_hash)))


def keys(value) -> set[str]:
    """Every key anywhere in a JSON document."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v)}
    return set()


def test_the_page_explains_what_is_stored_and_offers_the_downloads(app, client, owner):
    login(client)
    html = client.get("/account/privacy").get_data(as_text=True)
    assert "<h1>Privacy and your data</h1>" in html and "What we store" in html
    assert "we never store card numbers" in html
    assert 'href="/account/privacy/export?format=json"' in html
    assert 'href="/account/privacy/export?format=pdf"' in html
    assert 'action="/account/privacy/erasure"' in html and "We received your request" not in html


def test_the_json_export_holds_the_account_and_no_secrets(app, client, owner, history):
    other = make_owner(app, email="other@example.com")
    theirs = make_proforma(app, other.client_id, 999, description="Somebody else's hosting")
    login(client)

    response = client.get("/account/privacy/export?format=json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == f'attachment; filename="account-{owner.client_id}-data.json"'
    body = response.get_data(as_text=True)
    data = json.loads(body)

    assert data["client"]["id"] == owner.client_id and data["client"]["country"] == "RO"
    assert {i["number"] for i in data["invoices"]} == history and theirs not in body
    assert {line["description"] for i in data["invoices"] for line in i["lines"]} == {"Web Hosting Pro - example.ro"}
    assert [u["email"] for u in data["users"]] == ["owner@example.com", "helper@example.com"]
    assert [e["amount_minor"] for e in data["ledger_entries"]] == [5000]
    assert [(p["card_brand"], p["card_last4"]) for p in data["payments"]] == [("Visa", "4242")]
    assert [(c["brand"], c["last4"]) for c in data["saved_cards"]] == [("MasterCard", "4444")]
    assert [(c["field"], c["new_value"]) for c in data["profile_changes"]] == [("city", "Cluj-Napoca")]
    assert "welcome" in {m["template"] for m in data["emails"]}
    assert data["login_events"] and all(e["user_id"] == owner.user_id for e in data["login_events"])

    # No credentials of anyone, no card token.
    assert not keys(data) & {"password_hash", "totp_secret", "security_stamp", "reset_nonce", "token"}
    for secret in [*password_hashes(app), CARD_TOKEN, "JBSWY3DPEHPK3PXP", "$argon2"]:
        assert secret not in body


def test_the_pdf_export_is_a_readable_pdf(app, client, owner, history):
    login(client)
    response = client.get("/account/privacy/export?format=pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    assert "Your data at Billfold Hosting" in text
    assert all(number in text for number in history)
    assert "helper@example.com" in text and "MasterCard •••• 4444" in text
    assert CARD_TOKEN not in text


def test_an_unknown_export_format_is_a_404(app, client, owner):
    login(client)
    assert client.get("/account/privacy/export?format=xml").status_code == 404


def test_an_erasure_request_is_made_once_while_open(app, client, owner):
    login(client)
    token = csrf_token(client, "/account/privacy")
    response = client.post("/account/privacy/erasure", data={"csrf_token": token, "reason": "Closing my business"})
    assert response.status_code == 302 and response.location.endswith("/account/privacy")
    page = client.get("/account/privacy").get_data(as_text=True)
    assert "We received your request" in page and 'action="/account/privacy/erasure"' not in page

    client.post("/account/privacy/erasure", data={"csrf_token": token})  # a second click
    assert count(app, ErasureRequest) == 1
    with app.app_context():
        request = db.session.scalar(sa.select(ErasureRequest))
        assert (request.client_id, request.user_id, request.status, request.reason) == (
            owner.client_id,
            owner.user_id,
            "open",
            "Closing my business",
        )
    assert count(app, EmailMessage, EmailMessage.template == "erasure_request") == 1


def test_a_closed_request_allows_a_new_one(app, client, owner):
    login(client)
    token = csrf_token(client, "/account/privacy")
    client.post("/account/privacy/erasure", data={"csrf_token": token})
    with app.app_context():
        db.session.scalar(sa.select(ErasureRequest)).status = "rejected"
        db.session.commit()
    assert "We received your request" not in client.get("/account/privacy").get_data(as_text=True)
    client.post("/account/privacy/erasure", data={"csrf_token": token})
    assert count(app, ErasureRequest) == 2 and count(app, ErasureRequest, ErasureRequest.status == "open") == 1


@pytest.mark.parametrize("permissions", [[], list(PERMISSIONS)])
def test_a_trusted_user_gets_403_on_every_privacy_route(app, client, owner, permissions):
    with app.app_context():
        db.session.add(trusted_user(owner, permissions))
        db.session.commit()
    login(client, "helper@example.com", "helper-password-1")
    token = csrf_token(client, "/")
    for path in ["/account/privacy", "/account/privacy/export?format=json", "/account/privacy/export?format=pdf"]:
        response = client.get(path)
        assert response.status_code == 403, path
        assert "You don't have access to this" in response.get_data(as_text=True)
    assert client.post("/account/privacy/erasure", data={"csrf_token": token}).status_code == 403
    assert count(app, ErasureRequest) == 0


def test_a_link_session_must_confirm_the_password_before_exporting(app, client):
    owner = make_owner(app, email="exporter@example.com")
    login(client, owner.email, owner.password)
    with client.session_transaction() as session:
        session["_fresh"] = False
    response = client.get("/account/privacy/export?format=json")
    assert response.status_code == 302 and response.location.startswith("/account/reauthenticate")


def test_the_export_does_not_carry_reset_links(app, client):
    owner = make_owner(app, email="exporter@example.com")
    anonymous = app.test_client()
    token = csrf_token(anonymous, "/forgot-password")
    anonymous.post("/forgot-password", data={"csrf_token": token, "email": owner.email})
    login(client, owner.email, owner.password)
    export = client.get("/account/privacy/export?format=json").get_data(as_text=True)
    assert "password_reset" in export and "/reset/" not in export
