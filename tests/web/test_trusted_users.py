"""Trusted users: the owner adds, invites, edits, suspends and removes the people who may use the account."""

from __future__ import annotations

import re
import time

import itsdangerous
import pytest
import sqlalchemy as sa

from app.clients.models import User, UserRole, UserStatus
from app.core.signing import sign, unsign
from app.extensions import db
from app.notify.models import EmailMessage
from tests.helpers import count, csrf_token, login, make_owner
from tests.support.trusted import TRUSTED_PASSWORD, make_trusted

INVITE_LINK = re.compile(r"https://billing\.example\.test(/trusted-users/invite/[\w.\-]+)")


def get_user(app, user_id: int) -> User | None:
    with app.app_context():
        user = db.session.get(User, user_id)
        if user is not None:
            db.session.expunge(user)
        return user


def nav_labels(html: str) -> list[str]:
    nav = re.search(r'<nav class="sidenav"[^>]*>(.*?)</nav>', html, re.S)
    assert nav, "no client menu on the page"
    return [label.strip() for label in re.findall(r"<a [^>]*>([^<]+)</a>", nav.group(1))]


def field_errors(html: str, field_id: str) -> str:
    """The text of the message area beside one field."""
    match = re.search(rf'<div class="field-msg" id="{field_id}-msg">(.*?)</div>', html, re.S)
    assert match, f"no message area for {field_id}"
    return match.group(1)


def add_user_form(client, **data):
    token = csrf_token(client, "/trusted-users/new")
    form = {"name": "Maria Popescu", "email": "maria@example.com", "csrf_token": token, **data}
    return client.post("/trusted-users/new", data=form)


def post_action(client, url: str):
    return client.post(url, data={"csrf_token": csrf_token(client, "/trusted-users")})


# --- adding with a password -------------------------------------------------------


def test_owner_adds_a_trusted_user_who_then_signs_in(app, client, owner):
    login(client)
    response = add_user_form(
        client,
        password=TRUSTED_PASSWORD,
        permissions=["invoices.view", "invoices.pay"],
        notification_types=["invoices", "payments"],
    )
    assert response.status_code == 302 and response.location == "/trusted-users"

    page = client.get("/trusted-users").get_data(as_text=True)
    assert "Maria Popescu can now sign in." in page
    assert "maria@example.com" in page
    assert "View and download invoices" in page and "Pay invoices and edit their billing details" in page
    assert "Account balance: add funds" not in page
    assert "badge-active" in page and "Never" in page

    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "maria@example.com"))
        assert user.role is UserRole.TRUSTED and user.client_id == owner.client_id
        assert user.permissions == ["invoices.view", "invoices.pay"]
        assert user.notification_types == ["invoices", "payments"]
        assert user.invited_at is None

    browser = app.test_client()
    assert login(browser, "Maria@Example.com", TRUSTED_PASSWORD).location == "/"
    dashboard = browser.get("/").get_data(as_text=True)
    assert "Hello, Maria" in dashboard and f"Client ID {owner.client_id}" in dashboard

    listed = client.get("/trusted-users").get_data(as_text=True)
    assert "Never" not in listed, "the last sign-in is shown once they signed in"


@pytest.mark.parametrize(
    ("data", "field_id", "message"),
    [
        ({"password": "short"}, "password", "Use at least 10 characters."),
        ({"password": ""}, "password", "Choose a password, or send an invite link instead."),
        ({"password": TRUSTED_PASSWORD, "email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"password": TRUSTED_PASSWORD, "name": "  "}, "name", "Enter the person&#39;s name."),
        ({"password": TRUSTED_PASSWORD, "permissions": ["admin.everything"]}, "permissions", "is not a valid choice"),
    ],
)
def test_bad_input_gets_a_message_beside_the_field_and_adds_nobody(app, client, owner, data, field_id, message):
    login(client)
    response = add_user_form(client, **data)

    assert response.status_code == 422
    assert message in field_errors(response.get_data(as_text=True), field_id)
    assert count(app, User, User.role == UserRole.TRUSTED) == 0


@pytest.mark.parametrize("email", ["owner@example.com", " OWNER@example.com ", "other-owner@example.com"])
def test_an_email_any_user_already_has_is_refused_beside_the_field(app, client, owner, email):
    make_owner(app, email="other-owner@example.com")
    login(client)
    response = add_user_form(client, email=email, password=TRUSTED_PASSWORD)

    assert response.status_code == 422
    assert "An account with this email already exists." in field_errors(response.get_data(as_text=True), "email")
    assert count(app, User, User.role == UserRole.TRUSTED) == 0


def test_htmx_gets_only_the_form_back_on_an_error(client, owner):
    login(client)
    token = csrf_token(client, "/trusted-users/new")
    response = client.post(
        "/trusted-users/new",
        data={"name": "Maria", "email": "maria@example.com", "password": "short", "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert html.lstrip().startswith("<form") and "<html" not in html
    assert "Use at least 10 characters." in html


def test_every_form_needs_the_csrf_token(app, client, owner):
    trusted_id = make_trusted(app, owner.client_id)
    login(client)
    response = client.post("/trusted-users/new", data={"name": "X", "email": "x@example.com", "password": "y" * 12})
    assert response.status_code == 400
    for url in (f"/trusted-users/{trusted_id}/suspend", f"/trusted-users/{trusted_id}/remove"):
        assert client.post(url).status_code == 400
    assert count(app, User, User.role == UserRole.TRUSTED) == 1
    assert get_user(app, trusted_id).status is UserStatus.ACTIVE


def test_changes_need_a_fresh_login(app, client, owner):
    """A session restored from a remember-me cookie may look, but confirms the password before changing access."""
    trusted_id = make_trusted(app, owner.client_id)
    login(client)
    token = csrf_token(client, "/trusted-users")
    with client.session_transaction() as session:
        session["_fresh"] = False

    assert client.get("/trusted-users").status_code == 200
    asked = client.get("/trusted-users/new")
    assert asked.status_code == 302 and "/reauthenticate?next=%2Ftrusted-users%2Fnew" in asked.location
    response = client.post(f"/trusted-users/{trusted_id}/suspend", data={"csrf_token": token})
    assert response.status_code == 302 and "/reauthenticate" in response.location
    assert get_user(app, trusted_id).status is UserStatus.ACTIVE

    confirmed = client.post(asked.location, data={"password": owner.password, "csrf_token": token})
    assert confirmed.location == "/trusted-users/new"
    assert "Add a trusted user" in client.get("/trusted-users/new").get_data(as_text=True)


# --- the invite ------------------------------------------------------------------


def invite_link(app, email: str = "maria@example.com") -> str:
    """The path of the newest invite link sent to `email`, read from the outbox."""
    with app.app_context():
        message = db.session.scalars(
            sa.select(EmailMessage)
            .where(EmailMessage.template == "trusted_user_invite")
            .order_by(EmailMessage.id.desc())
        ).first()
        assert message is not None, "no invite email in the outbox"
        assert message.recipients == [email]
        match = INVITE_LINK.search(message.body_text)
        assert match, message.body_text
        assert match.group(0) in message.body_html
        return match.group(1)


def accept(browser, path: str, password: str = TRUSTED_PASSWORD, confirm: str | None = None):
    token = csrf_token(browser, path)
    return browser.post(path, data={"password": password, "confirm": confirm or password, "csrf_token": token})


def test_invite_flow_end_to_end(app, client, owner):
    login(client)
    response = add_user_form(client, send_invite="y", password="", permissions=["services"])
    assert response.status_code == 302
    page = client.get("/trusted-users").get_data(as_text=True)
    assert "An invitation was sent to maria@example.com." in page and "badge-invited" in page

    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "maria@example.com"))
        user_id, old_hash = user.id, user.password_hash
        assert user.invited_at is not None
        message = db.session.scalar(sa.select(EmailMessage).where(EmailMessage.template == "trusted_user_invite"))
        assert message.user_id == user_id and message.client_id == owner.client_id
        assert "Ion Ionescu invited you" in message.body_text and "expires in 7 days" in message.body_text
    path = invite_link(app)
    assert login(app.test_client(), "maria@example.com", "").status_code == 422, "no password works before accepting"

    browser = app.test_client()
    form_page = browser.get(path)
    assert form_page.status_code == 200
    assert "Welcome, Maria Popescu" in form_page.get_data(as_text=True)

    mismatch = accept(browser, path, confirm="something-else-1")
    assert mismatch.status_code == 422
    assert "The passwords differ." in field_errors(mismatch.get_data(as_text=True), "confirm")
    assert get_user(app, user_id).password_hash == old_hash

    done = accept(browser, path)
    assert done.status_code == 302 and done.location == "/"
    dashboard = browser.get("/").get_data(as_text=True)
    assert "Hello, Maria" in dashboard and "Your password is set." in dashboard
    user = get_user(app, user_id)
    assert user.invited_at is None and user.last_login_at is not None

    again = app.test_client()
    refused = again.get(path)
    assert refused.status_code == 400
    assert "not valid or was already used" in refused.get_data(as_text=True)
    replay = again.post(path, data={"password": "another-pass-9", "confirm": "another-pass-9"})
    assert replay.status_code == 400
    assert get_user(app, user_id).password_hash == user.password_hash

    assert login(app.test_client(), "maria@example.com", TRUSTED_PASSWORD).location == "/"


def test_a_new_invitation_voids_the_previous_link(app, client, owner):
    login(client)
    add_user_form(client, send_invite="y")
    first = invite_link(app)
    with app.app_context():
        user_id = db.session.scalar(sa.select(User.id).where(User.email == "maria@example.com"))

    assert post_action(client, f"/trusted-users/{user_id}/resend-invite").status_code == 302
    second = invite_link(app)

    assert second != first
    assert app.test_client().get(first).status_code == 400
    assert app.test_client().get(second).status_code == 200


def test_forged_and_expired_invites_are_refused_and_change_nothing(app, client, owner, monkeypatch):
    login(client)
    add_user_form(client, send_invite="y")
    fresh = invite_link(app).rsplit("/", 1)[1]
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "maria@example.com"))
        before = user.password_hash
        payload = unsign(fresh, salt="trusted-user-invite", max_age=60)
        # The same invite, signed eight days ago.
        eight_days_ago = int(time.time()) - 8 * 24 * 3600
        monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: eight_days_ago)
        expired = sign(payload, salt="trusted-user-invite")
        monkeypatch.undo()
        other_purpose = sign(payload, salt="password-reset")

    browser = app.test_client()
    response = browser.get(f"/trusted-users/invite/{expired}")
    assert response.status_code == 400
    assert "This invitation has expired." in response.get_data(as_text=True)
    answer = {"password": TRUSTED_PASSWORD, "confirm": TRUSTED_PASSWORD}
    posted = browser.post(f"/trusted-users/invite/{expired}", data=answer)
    assert posted.status_code == 400

    for forged in (fresh[:-4] + ("AAAA" if not fresh.endswith("AAAA") else "BBBB"), other_purpose, "nonsense"):
        response = browser.get(f"/trusted-users/invite/{forged}")
        assert response.status_code == 400
        assert "not valid or was already used" in response.get_data(as_text=True)

    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "maria@example.com"))
        assert user.password_hash == before and user.invited_at is not None
    assert browser.get("/").status_code == 302, "nobody got logged in"
    assert app.test_client().get(f"/trusted-users/invite/{fresh}").status_code == 200, "the real link still works"


def test_a_suspended_users_invite_does_not_work(app, client, owner):
    login(client)
    add_user_form(client, send_invite="y")
    path = invite_link(app)
    with app.app_context():
        user_id = db.session.scalar(sa.select(User.id).where(User.email == "maria@example.com"))
    post_action(client, f"/trusted-users/{user_id}/suspend")

    assert app.test_client().get(path).status_code == 400


# --- editing, suspending, removing -----------------------------------------------


def test_owner_edits_name_permissions_and_notifications(app, client, owner):
    trusted_id = make_trusted(app, owner.client_id, permissions=["invoices.view"])
    login(client)
    page = client.get(f"/trusted-users/{trusted_id}/edit").get_data(as_text=True)
    assert 'value="Maria Popescu"' in page
    assert re.search(r'<input checked[^>]*value="invoices.view"', page), "current permissions are ticked"

    token = csrf_token(client, f"/trusted-users/{trusted_id}/edit")
    response = client.post(
        f"/trusted-users/{trusted_id}/edit",
        data={"name": "Maria P.", "permissions": ["wallet", "services"], "notification_types": ["newsletter"]},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 302
    user = get_user(app, trusted_id)
    assert (user.name, user.permissions, user.notification_types) == (
        "Maria P.",
        ["wallet", "services"],
        ["newsletter"],
    )


def test_a_forged_permission_on_edit_changes_nothing(app, client, owner):
    trusted_id = make_trusted(app, owner.client_id, permissions=["invoices.view"])
    login(client)
    token = csrf_token(client, f"/trusted-users/{trusted_id}/edit")
    response = client.post(
        f"/trusted-users/{trusted_id}/edit",
        data={"name": "Renamed", "permissions": ["invoices.view", "owner"], "csrf_token": token},
    )
    assert response.status_code == 422
    assert "is not a valid choice" in field_errors(response.get_data(as_text=True), "permissions")
    user = get_user(app, trusted_id)
    assert (user.name, user.permissions) == ("Maria Popescu", ["invoices.view"])


def test_a_suspended_user_is_signed_out_and_cannot_sign_in_until_reactivated(app, client, owner):
    trusted_id = make_trusted(app, owner.client_id, permissions=["invoices.view"])
    browser = app.test_client()
    login(browser, "maria@example.com", TRUSTED_PASSWORD)
    assert browser.get("/invoices").status_code == 200
    stamp = get_user(app, trusted_id).security_stamp

    login(client)
    response = post_action(client, f"/trusted-users/{trusted_id}/suspend")
    assert response.status_code == 302
    page = client.get("/trusted-users").get_data(as_text=True)
    assert "Maria Popescu is suspended and was signed out." in page and "badge-suspended" in page
    user = get_user(app, trusted_id)
    assert user.status is UserStatus.SUSPENDED and user.security_stamp != stamp

    assert browser.get("/invoices").location == "/login?next=/invoices"
    refused = login(app.test_client(), "maria@example.com", TRUSTED_PASSWORD)
    assert refused.status_code == 422 and "The email or password is incorrect." in refused.get_data(as_text=True)

    post_action(client, f"/trusted-users/{trusted_id}/reactivate")
    assert get_user(app, trusted_id).status is UserStatus.ACTIVE
    assert login(app.test_client(), "maria@example.com", TRUSTED_PASSWORD).location == "/"


def test_removing_asks_first_then_deletes_and_signs_out(app, client, owner):
    login(client)
    add_user_form(client, send_invite="y")  # leaves an outbox row pointing at the user
    with app.app_context():
        trusted_id = db.session.scalar(sa.select(User.id).where(User.email == "maria@example.com"))
    path = invite_link(app)

    confirm = client.get(f"/trusted-users/{trusted_id}/remove")
    assert confirm.status_code == 200
    assert "Yes, remove Maria Popescu" in confirm.get_data(as_text=True)
    assert get_user(app, trusted_id) is not None, "the confirmation page changes nothing"

    response = post_action(client, f"/trusted-users/{trusted_id}/remove")
    assert response.status_code == 302
    assert "Maria Popescu was removed from your account." in client.get("/trusted-users").get_data(as_text=True)
    assert get_user(app, trusted_id) is None
    assert count(app, EmailMessage, EmailMessage.client_id == owner.client_id) == 2, "the archive keeps its emails"
    assert app.test_client().get(path).status_code == 400


def test_removing_a_signed_in_user_ends_their_session(app, client, owner):
    trusted_id = make_trusted(app, owner.client_id, permissions=["wallet"])
    browser = app.test_client()
    login(browser, "maria@example.com", TRUSTED_PASSWORD)
    assert browser.get("/wallet").status_code == 200

    login(client)
    post_action(client, f"/trusted-users/{trusted_id}/remove")

    assert browser.get("/wallet").location == "/login?next=/wallet"
    assert login(app.test_client(), "maria@example.com", TRUSTED_PASSWORD).status_code == 422


# --- who may do what --------------------------------------------------------------

USER_ROUTES = [
    ("GET", "/trusted-users/{id}/edit"),
    ("POST", "/trusted-users/{id}/edit"),
    ("POST", "/trusted-users/{id}/suspend"),
    ("POST", "/trusted-users/{id}/reactivate"),
    ("POST", "/trusted-users/{id}/resend-invite"),
    ("GET", "/trusted-users/{id}/remove"),
    ("POST", "/trusted-users/{id}/remove"),
]


@pytest.mark.parametrize(("method", "url"), USER_ROUTES)
def test_another_clients_trusted_user_is_a_404(app, client, owner, method, url):
    other = make_owner(app, email="other@example.com")
    theirs = make_trusted(app, other.client_id, email="theirs@example.com")
    login(client)
    token = csrf_token(client, "/trusted-users")

    response = client.open(url.format(id=theirs), method=method, data={"csrf_token": token, "name": "Mine now"})

    assert response.status_code == 404
    user = get_user(app, theirs)
    assert (user.name, user.status) == ("Maria Popescu", UserStatus.ACTIVE)
    assert "Maria Popescu" not in client.get("/trusted-users").get_data(as_text=True)


@pytest.mark.parametrize(("method", "url"), USER_ROUTES)
def test_the_owner_cannot_manage_themselves_here(app, client, owner, method, url):
    login(client)
    token = csrf_token(client, "/trusted-users")

    response = client.open(url.format(id=owner.user_id), method=method, data={"csrf_token": token, "name": "X"})

    assert response.status_code == 404
    user = get_user(app, owner.user_id)
    assert (user.name, user.status) == ("Ion Ionescu", UserStatus.ACTIVE)


@pytest.mark.parametrize(
    ("method", "url"),
    [("GET", "/trusted-users"), ("GET", "/trusted-users/new"), ("POST", "/trusted-users/new"), *USER_ROUTES],
)
def test_a_trusted_user_cannot_manage_trusted_users(app, client, owner, method, url):
    everything = ["invoices.view", "invoices.pay", "wallet", "services", "profile"]
    make_trusted(app, owner.client_id, permissions=everything)
    colleague = make_trusted(app, owner.client_id, email="colleague@example.com")
    login(client, "maria@example.com", TRUSTED_PASSWORD)
    token = csrf_token(client, "/")

    response = client.open(
        url.format(id=colleague),
        method=method,
        data={"csrf_token": token, "name": "Hijacked", "email": "new@example.com", "password": "p" * 12},
    )

    assert response.status_code == 403
    assert "<h1>" in response.get_data(as_text=True)
    assert get_user(app, colleague).name == "Maria Popescu"
    assert get_user(app, colleague).status is UserStatus.ACTIVE
    assert count(app, User) == 3


def test_the_area_needs_a_login(client):
    assert client.get("/trusted-users").location == "/login?next=/trusted-users"
    assert client.get("/trusted-users/new").location == "/login?next=/trusted-users/new"


def test_a_trusted_users_menu_shows_only_what_they_may_open(app, client, owner):
    make_trusted(app, owner.client_id, permissions=["invoices.view"])
    login(client, "maria@example.com", TRUSTED_PASSWORD)
    menu = nav_labels(client.get("/").get_data(as_text=True))
    assert "Dashboard" in menu and "Invoices" in menu
    for hidden in ("Services", "Order", "Account balance", "Trusted users", "My details"):
        assert hidden not in menu

    owner_browser = login_owner(app)
    owner_menu = nav_labels(owner_browser.get("/").get_data(as_text=True))
    assert {"Dashboard", "Services", "Invoices", "Account balance", "Trusted users"} <= set(owner_menu)


def login_owner(app):
    browser = app.test_client()
    login(browser)
    return browser
