"""The profile's account actions: set a password without email, send a reset link,
change the currency (with or without recalculating open proformas). Each audited, each
refused to staff without its privilege."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEntry
from app.clients.models import Client, ProfileChange, User
from app.extensions import db
from app.invoices.models import Invoice
from app.notify.models import EmailMessage
from app.staff import privileges as P
from tests import factories
from tests.helpers import balance, credit, csrf_from, login, make_proforma, pay
from tests.support.staff import make_staff, sign_in_staff

NEW_PASSWORD = "a-brand-new-pass-7"


def _staff(app, *privileges, email="clerk@example.com"):
    browser = app.test_client()
    sign_in_staff(browser, make_staff(app, *privileges, email=email))
    return browser


@pytest.fixture
def clerk(app):
    return _staff(app, P.VIEW_CLIENTS, P.EDIT_CLIENTS, P.MANAGE_BILLING)


def _post(browser, url: str, **data):
    token = csrf_from(browser.get(url).get_data(as_text=True))
    return browser.post(url, data={"csrf_token": token, **data})


def _audit(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        return db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)).all()


def _invoice(app, number: str) -> Invoice:
    with app.app_context():
        invoice = db.session.scalar(sa.select(Invoice).where(Invoice.number == number))
        lines = [(line.unit_price_minor, line.amount_minor) for line in invoice.lines]
        db.session.expunge(invoice)
        invoice.line_amounts = lines
        return invoice


# --- set a password -------------------------------------------------------------------------


def test_set_password_ends_the_users_sessions_and_the_new_one_works(app, owner, clerk):
    client_browser = app.test_client()
    login(client_browser)
    assert client_browser.get("/").status_code == 200
    with app.app_context():
        stamp = db.session.get(User, owner.user_id).security_stamp
    response = _post(
        clerk, f"/admin/clients/{owner.client_id}/password", user_id=str(owner.user_id), new_password=NEW_PASSWORD
    )
    assert response.status_code == 302 and response.location == f"/admin/clients/{owner.client_id}"
    assert client_browser.get("/").location.startswith("/login")  # that session is over
    with app.app_context():
        user = db.session.get(User, owner.user_id)
        assert user.security_stamp != stamp
        change = db.session.scalars(sa.select(ProfileChange).where(ProfileChange.field == "password")).one()
        assert change.new_value == "set by staff" and change.actor.startswith("staff:")
    entries = _audit(app, "user.password_set")
    assert (
        len(entries) == 1 and entries[0].client_id == owner.client_id and entries[0].target == f"user:{owner.user_id}"
    )
    assert NEW_PASSWORD not in f"{entries[0].old_value} {entries[0].new_value}"
    assert login(app.test_client(), owner.email, owner.password).status_code != 302  # the old one fails
    assert login(app.test_client(), owner.email, NEW_PASSWORD).location == "/"
    with app.app_context():
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(EmailMessage).where(EmailMessage.template == "password_reset")
            )
            == 0
        )  # no email


def test_a_password_breaking_the_clients_rules_is_refused_beside_the_field(app, owner, clerk):
    with app.app_context():
        before = db.session.get(User, owner.user_id).password_hash
    response = _post(
        clerk, f"/admin/clients/{owner.client_id}/password", user_id=str(owner.user_id), new_password="short"
    )
    assert response.status_code == 422
    assert "Use at least 10 characters." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, owner.user_id).password_hash == before
    assert _audit(app, "user.password_set") == []


def test_a_trusted_users_password_can_be_set_but_not_another_clients_users(app, owner, other, clerk):
    with app.app_context():
        trusted = factories.TrustedUserFactory(client_id=owner.client_id, email="helper@example.com")
        db.session.commit()
        trusted_id = trusted.id
    url = f"/admin/clients/{owner.client_id}/password"
    assert _post(clerk, url, user_id=str(trusted_id), new_password=NEW_PASSWORD).status_code == 302
    assert login(app.test_client(), "helper@example.com", NEW_PASSWORD).location == "/"
    response = _post(clerk, url, user_id=str(other.user_id), new_password=NEW_PASSWORD)
    assert response.status_code == 422  # not a choice of this client's form
    assert login(app.test_client(), other.email, other.password).location == "/"


# --- send a reset link ---------------------------------------------------------------------


def test_send_reset_link_queues_the_forgot_password_email_and_is_audited(app, owner, clerk):
    response = _post(clerk, f"/admin/clients/{owner.client_id}/password-reset", user_id=str(owner.user_id))
    assert response.status_code == 302
    with app.app_context():
        mails = db.session.scalars(sa.select(EmailMessage).where(EmailMessage.template == "password_reset")).all()
        assert len(mails) == 1 and mails[0].recipients == [owner.email]
        link = next(word for word in mails[0].body_text.split() if "/reset/" in word)
    assert len(_audit(app, "user.password_reset_sent")) == 1
    path = link.split("billing.example.test", 1)[1]
    assert app.test_client().get(path).status_code == 200  # the link is a working reset link


# --- currency ---------------------------------------------------------------------------------


def test_the_currency_does_not_change_while_there_is_a_balance(app, owner, clerk):
    credit(app, owner.client_id, 5000)
    response = _post(clerk, f"/admin/clients/{owner.client_id}/currency", currency="RON")
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "the currency can change only at a zero balance" in html
    with app.app_context():
        assert db.session.get(Client, owner.client_id).currency == "EUR"
    assert _audit(app, "client.currency") == []


def test_recalculating_converts_an_open_proforma_half_up_and_leaves_tax_invoices_alone(app, owner, clerk):
    paid = make_proforma(app, owner.client_id, 2000, description="Last year")
    tax_number = pay(app, paid)
    before = _invoice(app, tax_number)
    number = make_proforma(app, owner.client_id, 1001)
    assert balance(app, owner.client_id) == 0
    response = _post(clerk, f"/admin/clients/{owner.client_id}/currency", currency="usd", recalculate="y", rate="0.5")
    assert response.status_code == 302
    proforma = _invoice(app, number)
    assert proforma.currency == "USD" and proforma.line_amounts == [(501, 501)]  # 5.005 -> 5.01, half-up
    assert proforma.subtotal_minor == 501 and proforma.total_minor == proforma.subtotal_minor + proforma.tax_minor
    after = _invoice(app, tax_number)
    assert (after.currency, after.total_minor, after.line_amounts) == (
        before.currency,
        before.total_minor,
        before.line_amounts,
    )
    with app.app_context():
        assert db.session.get(Client, owner.client_id).currency == "USD"
    entry = _audit(app, "client.currency")[0]
    assert entry.old_value == "EUR" and entry.new_value.startswith("USD (at 0.5; 1 open proformas")


def test_without_recalculation_the_amounts_are_kept(app, owner, clerk):
    number = make_proforma(app, owner.client_id, 1000)
    before = _invoice(app, number)
    assert _post(clerk, f"/admin/clients/{owner.client_id}/currency", currency="RON").status_code == 302
    after = _invoice(app, number)
    assert after.currency == "RON" and (after.total_minor, after.line_amounts) == (
        before.total_minor,
        before.line_amounts,
    )


def test_a_partly_paid_proforma_stops_the_change(app, owner, clerk):
    number = make_proforma(app, owner.client_id, 1000)
    with app.app_context():
        db.session.execute(sa.update(Invoice).where(Invoice.number == number).values(amount_paid_minor=100))
        db.session.commit()
    response = _post(clerk, f"/admin/clients/{owner.client_id}/currency", currency="RON", recalculate="y", rate="5")
    assert response.status_code == 422 and "is partly paid" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Client, owner.client_id).currency == "EUR"
        assert db.session.scalar(sa.select(Invoice.currency).where(Invoice.number == number)) == "EUR"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"currency": "XYZ"}, "Choose an ISO 4217 currency code"),
        ({"currency": "EUR"}, "The client already uses EUR."),
        ({"currency": "RON", "recalculate": "y", "rate": "-2"}, "Enter a rate greater than zero"),
        ({"currency": "RON", "recalculate": "y", "rate": "abc"}, "Enter a rate greater than zero"),
    ],
)
def test_bad_currency_input_is_refused_beside_the_field(app, owner, clerk, data, message):
    response = _post(clerk, f"/admin/clients/{owner.client_id}/currency", **data)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Client, owner.client_id).currency == "EUR"


# --- privileges -------------------------------------------------------------------------------


def test_staff_without_the_privilege_get_403_and_are_not_offered_the_buttons(app, owner):
    viewer = _staff(app, P.VIEW_CLIENTS, email="viewer@example.com")
    page = viewer.get(f"/admin/clients/{owner.client_id}").get_data(as_text=True)
    for label in ("Set password", "Send password reset", "Change currency", "Log in as client"):
        assert label not in page
    for path in ("password", "password-reset", "currency", "login-as"):
        assert viewer.get(f"/admin/clients/{owner.client_id}/{path}").status_code == 403, path
    billing = _staff(app, P.VIEW_CLIENTS, P.MANAGE_BILLING, email="billing@example.com")
    page = billing.get(f"/admin/clients/{owner.client_id}").get_data(as_text=True)
    assert "Change currency" in page and "Set password" not in page
    token = csrf_from(page)
    response = billing.post(
        f"/admin/clients/{owner.client_id}/password",
        data={"csrf_token": token, "user_id": owner.user_id, "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 403
    assert login(app.test_client(), owner.email, owner.password).location == "/"
