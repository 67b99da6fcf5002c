"""Login from mail: /l/<token> signs the recipient into one invoice (SPEC section 3)."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
import sqlalchemy as sa

from app.clients.models import User
from app.core.actors import Actor
from app.core.passwords import verify_password
from app.core.types import utcnow
from app.extensions import db
from app.invoices.models import Invoice, InvoiceStatus
from app.security.models import LoginEvent
from app.security.services import change_password, seal_totp_secret
from tests.helpers import credit, csrf_token, login, make_owner, make_proforma
from tests.support.mail_login import link_path, signed_in_id
from tests.support.trusted import make_trusted
from tests.support.wallet import pay_form

SEVEN_DAYS = 7 * 86400


@pytest.fixture
def number(app, owner) -> str:
    return make_proforma(app, owner.client_id, 1000)


@pytest.fixture
def clock(monkeypatch):
    """time.time (what itsdangerous stamps and checks tokens with) frozen; move it with clock.now."""

    class Clock:
        now = time.time()

    monkeypatch.setattr(time, "time", lambda: Clock.now)
    return Clock


def update_user(app, user_id: int, **fields) -> None:
    with app.app_context():
        user = db.session.get(User, user_id)
        for name, value in fields.items():
            setattr(user, name, value)
        db.session.commit()


def assert_nobody_signed_in(client) -> None:
    assert signed_in_id(client) is None
    response = client.get("/")
    assert response.status_code == 302 and response.location == "/login?next=/"


def assert_login_page(client, response, message: str, next_path: str | None = None) -> str:
    """`response` sends the browser to the login page (with `next_path`), which shows `message`."""
    assert response.status_code == 302
    assert response.headers["Referrer-Policy"] == "no-referrer"
    location = urlsplit(response.location)
    assert location.path == "/login"
    assert parse_qs(location.query) == ({"next": [next_path]} if next_path else {})
    page = client.get(response.location)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'name="password"' in html, "the login form"
    assert message in html
    return html


def no_remember_cookie(response) -> bool:
    return not any("remember" in header for header in response.headers.getlist("Set-Cookie"))


# --- a valid link ----------------------------------------------------------------------------


def test_a_valid_link_signs_in_and_shows_the_invoice(app, client, owner, number):
    path = link_path(app, owner.user_id, number)
    token = path.removeprefix("/l/")

    response = client.get(path)

    assert response.status_code == 302, "a redirect at once, so the token leaves the address bar"
    assert response.location == f"/invoices/{number}"
    assert token not in response.get_data(as_text=True)
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert no_remember_cookie(response) and client.get_cookie("remember_me") is None
    assert signed_in_id(client) == owner.user_id
    assert client.get("/").status_code == 200

    page = client.get(f"/invoices/{number}")
    assert page.status_code == 200 and number in page.get_data(as_text=True)
    assert token not in page.get_data(as_text=True)
    pdf = client.get(f"/invoices/{number}/pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert no_remember_cookie(page) and no_remember_cookie(pdf)
    with app.app_context():
        event = db.session.scalars(sa.select(LoginEvent).where(LoginEvent.user_id == owner.user_id)).one()
        assert event.succeeded and event.reason == "email link"


def test_a_link_session_can_pay_the_invoice(app, client, owner, number):
    credit(app, owner.client_id, 5000)
    client.get(link_path(app, owner.user_id, number))

    response = pay_form(client, number, use_balance="y")

    assert response.status_code == 302 and "/reauthenticate" not in response.location
    with app.app_context():
        assert db.session.scalar(sa.select(Invoice.status).where(Invoice.number == number)) is InvoiceStatus.PAID


def test_opening_the_link_again_while_signed_in_keeps_the_session(app, client, owner, number):
    path = link_path(app, owner.user_id, number)
    client.get(path)
    with client.session_transaction() as session:
        sid = session["sid"]

    response = client.get(path)

    assert response.location == f"/invoices/{number}"
    with client.session_transaction() as session:
        assert session["sid"] == sid
    assert signed_in_id(client) == owner.user_id


# --- expiry ---------------------------------------------------------------------------------


def test_the_link_works_until_seven_days(app, client, owner, number, clock):
    assert app.config["LOGIN_LINK_MAX_AGE"] == SEVEN_DAYS
    path = link_path(app, owner.user_id, number)
    clock.now += SEVEN_DAYS - 60

    response = client.get(path)

    assert response.location == f"/invoices/{number}"
    assert signed_in_id(client) == owner.user_id
    assert client.get(f"/invoices/{number}").status_code == 200


def test_seven_days_and_one_second_later_the_link_has_expired(app, client, owner, number, clock):
    path = link_path(app, owner.user_id, number)
    clock.now += SEVEN_DAYS + 1

    response = client.get(path)

    assert_login_page(client, response, "This link has expired.")
    assert_nobody_signed_in(client)
    with app.app_context():
        assert not db.session.scalars(sa.select(LoginEvent).where(LoginEvent.succeeded)).all()


def test_the_max_age_is_configurable(app, client, owner, number, clock):
    app.config["LOGIN_LINK_MAX_AGE"] = 3600
    path = link_path(app, owner.user_id, number)
    clock.now += 3601
    assert_login_page(client, client.get(path), "This link has expired.")
    assert_nobody_signed_in(client)


# --- forged and void links ------------------------------------------------------------------


def _change_one_character(text: str, index: int) -> str:
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


@pytest.mark.parametrize("where", ["payload", "signature"])
def test_a_tampered_token_lands_on_the_login_page(app, client, owner, number, where):
    path = link_path(app, owner.user_id, number)
    token = path.removeprefix("/l/")
    # The first character is the payload's; one 5 from the end is the signature's
    # (not the last, whose low bits base64 may ignore).
    tampered = _change_one_character(token, 0 if where == "payload" else len(token) - 5)
    assert tampered != token

    response = client.get(f"/l/{tampered}")

    assert_login_page(client, response, "This link is not valid")
    assert_nobody_signed_in(client)


def test_a_token_of_another_purpose_is_refused(app, client, owner, number):
    from app.core.signing import sign

    with app.app_context():
        user = db.session.get(User, owner.user_id)
        invoice_id = db.session.scalar(sa.select(Invoice.id).where(Invoice.number == number))
        token = sign({"u": user.id, "i": invoice_id, "s": user.security_stamp}, salt="password-reset")

    assert_login_page(client, client.get(f"/l/{token}"), "This link is not valid")
    assert_nobody_signed_in(client)


def test_a_link_made_before_a_password_change_is_void(app, client, owner, number):
    path = link_path(app, owner.user_id, number)
    with app.app_context(), app.test_request_context():
        user = db.session.get(User, owner.user_id)
        change_password(user, owner.password, "a-brand-new-password", actor=Actor.user(user, ip="127.0.0.1"))
        db.session.commit()

    response = client.get(path)

    assert_login_page(client, response, "This link is not valid")
    assert_nobody_signed_in(client)
    # A link made after the change works.
    assert client.get(link_path(app, owner.user_id, number)).location == f"/invoices/{number}"


def test_a_link_made_before_the_security_stamp_rotated_is_void(app, client, owner, number):
    from app.clients.models import new_security_stamp

    path = link_path(app, owner.user_id, number)
    update_user(app, owner.user_id, security_stamp=new_security_stamp())

    assert_login_page(client, client.get(path), "This link is not valid")
    assert_nobody_signed_in(client)


def test_a_link_for_another_clients_invoice_is_refused(app, client, owner):
    other = make_owner(app, email="other@example.com")
    theirs = make_proforma(app, other.client_id, 1000)
    from app.core.signing import sign
    from app.notify.links import SALT

    with app.app_context():
        user = db.session.get(User, owner.user_id)
        invoice_id = db.session.scalar(sa.select(Invoice.id).where(Invoice.number == theirs))
        token = sign({"u": user.id, "i": invoice_id, "s": user.security_stamp}, salt=SALT)

    assert_login_page(client, client.get(f"/l/{token}"), "This link is not valid")
    assert_nobody_signed_in(client)


# --- users who must sign in properly --------------------------------------------------------


def test_a_2fa_user_lands_on_the_login_page_with_the_invoice_as_next(app, client, owner, number):
    secret = pyotp.random_base32()
    with app.app_context():
        seal_totp_secret(db.session.get(User, owner.user_id), secret)
        db.session.commit()
    update_user(app, owner.user_id, totp_enabled_at=utcnow())
    path = link_path(app, owner.user_id, number)

    response = client.get(path)

    target = f"/invoices/{number}"
    assert_login_page(client, response, "Please sign in to see this invoice.", next_path=target)
    assert_nobody_signed_in(client)
    assert no_remember_cookie(response)

    # Signing in with both factors then shows the invoice.
    token = csrf_token(client, f"/login?next={target}")
    step = client.post(
        f"/login?next={target}", data={"email": owner.email, "password": owner.password, "csrf_token": token}
    )
    assert step.location == "/login/2fa" and signed_in_id(client) is None
    done = client.post(
        "/login/2fa", data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_token(client, "/login/2fa")}
    )
    assert done.location == target
    assert signed_in_id(client) == owner.user_id


def test_a_user_outside_the_ip_allowlist_lands_on_the_login_page(app, client, owner, number):
    update_user(app, owner.user_id, ip_allowlist=["203.0.113.0/24"])
    path = link_path(app, owner.user_id, number)

    response = client.get(path)  # the test client comes from 127.0.0.1

    assert_login_page(client, response, "Please sign in to see this invoice.", next_path=f"/invoices/{number}")
    assert_nobody_signed_in(client)
    with app.app_context():
        assert not db.session.scalars(sa.select(LoginEvent).where(LoginEvent.succeeded)).all()


def test_a_user_inside_the_ip_allowlist_is_signed_in(app, client, owner, number):
    update_user(app, owner.user_id, ip_allowlist=["127.0.0.0/8"])
    assert client.get(link_path(app, owner.user_id, number)).location == f"/invoices/{number}"
    assert signed_in_id(client) == owner.user_id


def test_a_suspended_user_is_not_signed_in(app, client, owner, number):
    from app.clients.models import UserStatus

    path = link_path(app, owner.user_id, number)
    update_user(app, owner.user_id, status=UserStatus.SUSPENDED)

    assert_login_page(client, client.get(path), "This link is not valid")
    assert_nobody_signed_in(client)


# --- trusted users --------------------------------------------------------------------------


def test_a_trusted_users_link_signs_in_the_trusted_user(app, client, owner, number):

    trusted_id = make_trusted(app, owner.client_id, permissions=["invoices.view"], notification_types=["invoices"])

    response = client.get(link_path(app, trusted_id, number))

    assert response.location == f"/invoices/{number}"
    assert signed_in_id(client) == trusted_id != owner.user_id
    assert client.get(f"/invoices/{number}").status_code == 200
    # Only what Maria may do: the owner's trusted-users page is not hers.
    assert client.get("/trusted-users").status_code == 403


# --- a link session is not fresh ------------------------------------------------------------


def test_a_link_session_must_confirm_the_password_before_changing_it(app, client, owner, number):
    client.get(link_path(app, owner.user_id, number))
    assert signed_in_id(client) == owner.user_id
    token = csrf_token(client, "/account/security")
    change = {"current_password": owner.password, "new_password": "a-brand-new-password", "csrf_token": token}

    refused = client.post("/account/security/password", data=change)

    assert refused.status_code == 302
    assert urlsplit(refused.location).path == "/account/reauthenticate"
    with app.app_context():
        assert verify_password(db.session.get(User, owner.user_id).password_hash, owner.password), "unchanged"

    confirmed = client.post(
        refused.location, data={"password": owner.password, "csrf_token": csrf_token(client, refused.location)}
    )
    # The change is made again (tests/web/test_reauth_keeps_the_change.py); its passwords are never kept.
    assert confirmed.status_code == 307

    done = client.post("/account/security/password", data={**change, "csrf_token": csrf_token(client, "/")})
    assert done.status_code == 302 and done.location == "/account/security"
    with app.app_context():
        assert verify_password(db.session.get(User, owner.user_id).password_hash, "a-brand-new-password")


def test_a_wrong_password_does_not_make_the_link_session_fresh(app, client, owner, number):
    client.get(link_path(app, owner.user_id, number))
    page = "/account/reauthenticate?next=/account/security"
    wrong = client.post(page, data={"password": "not-my-password", "csrf_token": csrf_token(client, page)})
    assert wrong.status_code == 422

    response = client.post(
        "/account/security/password",
        data={
            "current_password": owner.password,
            "new_password": "a-brand-new-password",
            "csrf_token": csrf_token(client, "/account/security"),
        },
    )

    assert urlsplit(response.location).path == "/account/reauthenticate"
    assert login(app.test_client()).location == "/", "the old password still works"


# --- key rotation ---------------------------------------------------------------------------


def test_a_link_signed_with_the_previous_key_works_during_the_grace_period(app, owner, number):
    app.config["SECRET_KEY"] = "the-previous-key"
    app.config["SECRET_KEY_FALLBACKS"] = []
    old_path = link_path(app, owner.user_id, number)

    app.config["SECRET_KEY"] = "the-current-key"
    app.config["SECRET_KEY_FALLBACKS"] = ["the-previous-key"]
    browser = app.test_client()
    assert browser.get(old_path).location == f"/invoices/{number}"
    assert signed_in_id(browser) == owner.user_id
    assert browser.get(f"/invoices/{number}").status_code == 200

    # New links are signed with the current key: they work once the fallback is gone.
    new_path = link_path(app, owner.user_id, number)
    app.config["SECRET_KEY_FALLBACKS"] = []
    assert app.test_client().get(new_path).location == f"/invoices/{number}"


def test_after_the_grace_period_the_previous_keys_links_are_refused(app, owner, number):
    app.config["SECRET_KEY"] = "the-previous-key"
    old_path = link_path(app, owner.user_id, number)
    app.config["SECRET_KEY"] = "the-current-key"
    app.config["SECRET_KEY_FALLBACKS"] = []
    browser = app.test_client()

    assert_login_page(browser, browser.get(old_path), "This link is not valid")
    assert_nobody_signed_in(browser)
