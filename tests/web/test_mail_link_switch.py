"""/l/<token> never switches accounts silently: someone else signed in is asked first (no login CSRF)."""

from __future__ import annotations

import pyotp
import pytest
import sqlalchemy as sa

from app.clients.models import User
from app.core.types import utcnow
from app.extensions import db
from app.notify.models import EmailMessage
from app.security.models import LoginEvent, UserSession
from app.security.services import seal_totp_secret
from tests.helpers import csrf_from, login, make_owner, make_proforma
from tests.support.mail_login import link_path, signed_in_id
from tests.support.staff import make_staff, sign_in_staff


@pytest.fixture
def alice(app):
    return make_owner(app, email="alice@example.com", name="Alice Marin")


@pytest.fixture
def bob(app):
    return make_owner(app, email="bob.popescu@example.com", name="Bob Popescu")


@pytest.fixture
def bobs_link(app, bob) -> tuple[str, str]:
    number = make_proforma(app, bob.client_id, 1000)
    return link_path(app, bob.user_id, number), number


def events_of(app, user_id: int) -> list[tuple[bool, str | None]]:
    with app.app_context():
        query = sa.select(LoginEvent).where(LoginEvent.user_id == user_id).order_by(LoginEvent.id)
        return [(e.succeeded, e.reason) for e in db.session.scalars(query)]


def current_sid(client) -> str | None:
    with client.session_transaction() as session:
        return session.get("sid")


def test_signed_in_as_another_client_the_link_asks_before_switching(app, client, alice, bob, bobs_link):
    path, number = bobs_link
    login(client, email=alice.email, password=alice.password)
    sid = current_sid(client)

    response = client.get(path)

    assert response.status_code == 200
    assert response.headers["Referrer-Policy"] == "no-referrer" and response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert "Switch account?" in html
    assert "Alice Marin" in html and "alice@example.com" in html and f"Client ID {alice.client_id}" in html
    assert "Bob Popescu" in html and "bo•••@example.com" in html and "bob.popescu@example.com" not in html
    assert number in html
    assert "Sign out and continue as Bob Popescu" in html and "Stay signed in as Alice Marin" in html
    assert 'method="post"' in html and 'name="csrf_token"' in html
    # Nothing changed: still Alice, same session, and Bob did not sign in.
    assert signed_in_id(client) == alice.user_id and current_sid(client) == sid
    assert events_of(app, bob.user_id) == []
    assert client.get(f"/invoices/{number}").status_code == 404, "Bob's invoice is not Alice's"


def test_a_post_without_the_csrf_token_switches_nothing(app, client, alice, bob, bobs_link):
    path, _ = bobs_link
    login(client, email=alice.email, password=alice.password)

    response = client.post(path, data={})

    assert response.status_code == 400
    assert signed_in_id(client) == alice.user_id
    assert events_of(app, bob.user_id) == []


def test_sign_out_and_continue_switches_to_the_links_user(app, client, alice, bob, bobs_link):
    path, number = bobs_link
    login(client, email=alice.email, password=alice.password)
    page = client.get(path).get_data(as_text=True)

    response = client.post(path, data={"csrf_token": csrf_from(page)})

    assert response.status_code == 302 and response.location == f"/invoices/{number}"
    assert signed_in_id(client) == bob.user_id
    assert client.get(f"/invoices/{number}").status_code == 200
    assert events_of(app, bob.user_id) == [(True, "email link")]
    with app.app_context():
        live = db.session.scalars(sa.select(UserSession.user_id).where(UserSession.ended_at.is_(None))).all()
    assert live == [bob.user_id], "Alice's session on this browser is ended, as by signing out"


def test_stay_signed_in_keeps_the_current_account(app, client, alice, bob, bobs_link):
    path, _ = bobs_link
    login(client, email=alice.email, password=alice.password)
    html = client.get(path).get_data(as_text=True)
    assert 'href="/">Stay signed in as Alice Marin' in html.replace('class="btn btn-ghost btn-block" ', "")
    assert client.get("/").status_code == 200
    assert signed_in_id(client) == alice.user_id


def test_the_links_own_user_signed_in_just_sees_the_invoice(app, client, bob, bobs_link):
    path, number = bobs_link
    login(client, email=bob.email, password=bob.password)

    response = client.get(path)

    assert response.status_code == 302 and response.location == f"/invoices/{number}"
    assert events_of(app, bob.user_id) == [(True, None)], "no second sign-in"


def test_a_2fa_user_after_switching_lands_on_the_login_page(app, client, alice, bob, bobs_link):
    path, number = bobs_link
    with app.app_context():
        user = db.session.get(User, bob.user_id)
        seal_totp_secret(user, pyotp.random_base32())
        user.totp_enabled_at = utcnow()
        db.session.commit()
    path = link_path(app, bob.user_id, number)  # a link made after the change
    login(client, email=alice.email, password=alice.password)
    page = client.get(path).get_data(as_text=True)
    assert "Switch account?" in page

    response = client.post(path, data={"csrf_token": csrf_from(page)})

    assert response.status_code == 302 and response.location == f"/login?next=/invoices/{number}"
    assert signed_in_id(client) is None, "signed out of Alice, not into Bob"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(UserSession.ended_at.is_(None))) == 0


def test_a_staff_member_signed_in_is_asked_too(app, client, bob, bobs_link):
    path, _ = bobs_link
    sign_in_staff(client, make_staff(app, superuser=True, email="admin@example.com", name="Ana Admin"))
    with client.session_transaction() as session:
        assert session["_user_id"].startswith("staff:")

    html = client.get(path).get_data(as_text=True)

    assert "Switch account?" in html and "Ana Admin" in html and "Staff (admin)" in html
    assert 'href="/admin/"' in html
    with client.session_transaction() as session:
        assert session["_user_id"].startswith("staff:")


def test_a_first_use_from_a_new_browser_raises_the_sign_in_alert(app, client, bob, bobs_link):
    path, _ = bobs_link
    with app.app_context():
        db.session.get(User, bob.user_id).login_alerts = True
        db.session.commit()

    client.get(path, environ_base={"REMOTE_ADDR": "198.51.100.30"})
    client.get(path, environ_base={"REMOTE_ADDR": "198.51.100.30"})  # again, already signed in

    with app.app_context():
        alerts = db.session.scalars(sa.select(EmailMessage).where(EmailMessage.template == "login_alert")).all()
        assert len(alerts) == 1
        assert alerts[0].recipients == [bob.email]
        assert "198.51.100.30" in alerts[0].body_text and "sign-in link from one of our emails" in alerts[0].body_text
        user = db.session.get(User, bob.user_id)
        assert user.last_login_ip == "198.51.100.30" and user.last_login_at is not None
    assert events_of(app, bob.user_id) == [(True, "email link")]
