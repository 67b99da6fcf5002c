"""'Keep me signed in': the remember cookie is bound to one recorded session and dies with it."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
import sqlalchemy as sa

from app.clients.models import User
from app.core.types import utcnow
from app.extensions import db
from app.security.models import LoginEvent, UserSession
from tests.helpers import csrf_token, login
from tests.support.notifications import emails
from tests.support.security import enable_2fa, last_email, post_form

COOKIE = "remember_me"
THIRTY_DAYS = 30 * 86400


def remember_cookie(client) -> str | None:
    cookie = client.get_cookie(COOKIE)
    return cookie.value if cookie else None


def signed_in(client) -> bool:
    """Whether this browser gets the dashboard (not the login page)."""
    response = client.get("/")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def browser_with(app, value: str):
    """A fresh browser holding only a (copied) remember cookie: no session."""
    browser = app.test_client()
    browser.set_cookie(COOKIE, value)
    return browser


def close_browser(client) -> None:
    client.delete_cookie("session")  # the session cookie dies with the browser; the remember cookie stays


def remembered_login(app, client, owner) -> str:
    response = login(client, remember="y")
    assert response.status_code == 302 and response.location == "/"
    value = remember_cookie(client)
    assert value, "keep me signed in sets the remember cookie"
    return value


def live_sessions(app, user_id: int) -> list[UserSession]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        ).all()
        for row in rows:
            db.session.expunge(row)
        return rows


# --- what the cookie is --------------------------------------------------------------------------


def test_the_cookie_lasts_30_days_names_the_session_and_stores_no_secret(app, client, owner):
    response = login(client, remember="y")

    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{COOKIE}="))
    assert "Max-Age=2592000" in header and "HttpOnly" in header and "SameSite=Lax" in header
    assert app.config["REMEMBER_COOKIE_DAYS"] == 30
    value = remember_cookie(client)
    session_id, secret = value.split(".", 1)
    (row,) = live_sessions(app, owner.user_id)
    assert int(session_id) == row.id
    assert secret not in (row.remember_hash, row.token), "only a hash of the secret is stored"
    assert timedelta(days=29, hours=23) < row.remember_until - utcnow() <= timedelta(days=30)
    assert not any("remember_token" in h for h in response.headers.getlist("Set-Cookie")), "no Flask-Login cookie"


class TestConfigurableDays:
    @pytest.fixture
    def app_overrides(self):
        return {"REMEMBER_COOKIE_DAYS": 7}

    def test_remember_cookie_days_sets_the_lifetime(self, app, client, owner):
        response = login(client, remember="y")
        header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{COOKIE}="))
        assert f"Max-Age={7 * 86400}" in header
        (row,) = live_sessions(app, owner.user_id)
        assert timedelta(days=6, hours=23) < row.remember_until - utcnow() <= timedelta(days=7)


def test_without_keep_me_signed_in_there_is_no_cookie(app, client, owner):
    login(client)
    assert remember_cookie(client) is None
    close_browser(client)
    assert not signed_in(client)


def test_the_cookie_stops_working_after_30_days(app, client, owner):
    value = remembered_login(app, client, owner)
    with app.app_context():
        row = db.session.get(UserSession, int(value.split(".")[0]))
        row.remember_until = utcnow() - timedelta(seconds=1)  # as 30 days later
        db.session.commit()
    close_browser(client)

    assert not signed_in(client)
    assert remember_cookie(client) is None, "the worthless cookie is dropped"


def test_a_forged_secret_or_session_id_restores_nothing(app, client, owner):
    value = remembered_login(app, client, owner)
    session_id, secret = value.split(".", 1)
    assert not signed_in(browser_with(app, f"{session_id}.{secret[:-2]}xx"))
    assert not signed_in(browser_with(app, f"{int(session_id) + 1}.{secret}"))
    assert not signed_in(browser_with(app, f"99999999999999999999.{secret}"))
    assert not signed_in(browser_with(app, "garbage"))
    assert signed_in(browser_with(app, value))


def test_a_flask_login_cookie_of_the_old_kind_is_refused_and_dropped(app, client, owner):
    """The 365-day cookies issued before this change ('user:<id>:<stamp>|digest') sign nobody in."""
    from flask_login.utils import encode_cookie

    with app.app_context(), app.test_request_context():
        user = db.session.get(User, owner.user_id)
        old = encode_cookie(user.get_id())
    browser = app.test_client()
    browser.set_cookie("remember_token", old)

    response = browser.get("/")

    assert response.status_code == 302 and response.location == "/login?next=/"
    assert browser.get_cookie("remember_token") is None
    assert not signed_in(browser)


# --- a restore is a sign-in ------------------------------------------------------------------------


def test_a_restore_continues_the_session_and_is_recorded_as_a_sign_in(app, client, owner):
    with app.app_context():
        db.session.get(User, owner.user_id).login_alerts = True
        db.session.commit()
    value = remembered_login(app, client, owner)
    (row,) = live_sessions(app, owner.user_id)
    close_browser(client)

    restored = client.get("/", environ_base={"REMOTE_ADDR": "198.51.100.20"}, headers={"User-Agent": "Firefox/140.0"})

    assert restored.status_code == 200
    (again,) = live_sessions(app, owner.user_id)
    assert again.id == row.id == int(value.split(".")[0]), "the same session, not a new one"
    assert again.ip == "198.51.100.20"
    with app.app_context():
        events = db.session.scalars(
            sa.select(LoginEvent).where(LoginEvent.user_id == owner.user_id).order_by(LoginEvent.id)
        ).all()
        assert [(e.succeeded, e.reason) for e in events] == [(True, None), (True, "remembered browser")]
        assert events[-1].ip == "198.51.100.20"
        user = db.session.get(User, owner.user_id)
        assert user.last_login_ip == "198.51.100.20"
    alerts = emails(app, "login_alert")
    assert len(alerts) == 2, "the password sign-in and the restore"
    assert "198.51.100.20" in alerts[-1].body_text and "kept signed in" in alerts[-1].body_text
    # The restored session is not fresh: a password change asks for the password first.
    change = post_form(
        client,
        "/account/security",
        "/account/security/password",
        current_password=owner.password,
        new_password="x" * 12,
    )
    assert change.status_code == 302 and change.location.startswith("/account/reauthenticate")
    # Further requests use the restored session: no second sign-in.
    assert client.get("/").status_code == 200
    assert len(emails(app, "login_alert")) == 2


def test_no_alert_on_restore_when_alerts_are_off(app, client, owner):
    remembered_login(app, client, owner)
    close_browser(client)
    assert signed_in(client)
    assert emails(app, "login_alert") == []
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(LoginEvent.reason == "remembered browser")) == 1


# --- everything that ends the session ends the cookie ----------------------------------------------


def test_a_copied_cookie_stops_working_after_logout(app, client, owner):
    value = remembered_login(app, client, owner)
    assert signed_in(browser_with(app, value)), "a copy works while the session is open"

    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/")})

    assert response.status_code == 302
    assert any(h.startswith(f"{COOKIE}=;") for h in response.headers.getlist("Set-Cookie")), "the cookie is dropped"
    assert remember_cookie(client) is None
    assert not signed_in(browser_with(app, value))
    assert live_sessions(app, owner.user_id) == []


def test_a_copied_cookie_stops_working_once_the_session_is_ended_on_the_security_page(app, client, owner):
    value = remembered_login(app, client, owner)
    elsewhere = app.test_client()
    login(elsewhere)
    page = elsewhere.get("/account/security").get_data(as_text=True)
    ids = re.findall(r'name="session_id" value="(\d+)"', page)
    assert value.split(".")[0] in ids

    post_form(elsewhere, "/account/security", "/account/security/sessions/end", session_id=value.split(".")[0])

    assert not signed_in(browser_with(app, value))
    close_browser(client)
    assert not signed_in(client)


def test_a_copied_cookie_stops_working_after_a_password_change(app, client, owner):
    value = remembered_login(app, client, owner)

    post_form(
        client,
        "/account/security",
        "/account/security/password",
        current_password=owner.password,
        new_password="a-new-long-password",
    )

    assert not signed_in(browser_with(app, value))
    # This browser is still remembered, with a new cookie for its new session.
    renewed = remember_cookie(client)
    assert renewed and renewed != value
    close_browser(client)
    assert signed_in(client)


def test_a_copied_cookie_of_another_browser_stops_working_after_a_password_change(app, client, owner):
    value = remembered_login(app, app.test_client(), owner)
    login(client)
    post_form(
        client,
        "/account/security",
        "/account/security/password",
        current_password=owner.password,
        new_password="a-new-long-password",
    )
    assert not signed_in(browser_with(app, value))


def test_a_copied_cookie_stops_working_after_turning_2fa_on_and_off(app, client, owner):
    value = remembered_login(app, client, owner)

    secret, _ = enable_2fa(app, client)

    assert not signed_in(browser_with(app, value))
    after_on = remember_cookie(client)
    assert after_on and after_on != value
    assert signed_in(browser_with(app, after_on)), "this browser stays remembered"

    import time

    code = pyotp.TOTP(secret).at(time.time() + 30)
    post_form(client, "/account/security", "/account/security/2fa/disable", code=code)

    assert not signed_in(browser_with(app, after_on))


def test_a_copied_cookie_stops_working_after_an_email_change(app, client, owner):
    value = remembered_login(app, client, owner)
    post_form(
        client, "/account/security", "/account/security/email", new_email="new@example.com", password=owner.password
    )
    assert signed_in(browser_with(app, value)), "nothing changes before the new address confirms"
    link = re.search(
        r"https://billing\.example\.test(/account/confirm-email/\S+)", last_email(app, "email_change").body_text
    ).group(1)

    app.test_client().get(link)

    assert not signed_in(browser_with(app, value))
    assert live_sessions(app, owner.user_id) == [], "every session ended: sign in with the new address"


def test_a_copied_cookie_stops_working_after_an_ip_allowlist_change(app, client, owner):
    value = remembered_login(app, client, owner)
    other = remembered_login(app, app.test_client(), owner)

    response = post_form(client, "/account/security", "/account/security/allowlist", ip_allowlist="127.0.0.1")

    assert response.status_code == 302
    assert not signed_in(browser_with(app, value)), "this browser's old cookie"
    assert not signed_in(browser_with(app, other)), "another browser's cookie"
    renewed = remember_cookie(client)
    assert renewed and renewed != value
    assert signed_in(browser_with(app, renewed)), "this browser stays remembered under the new list"


def test_a_cookie_from_an_address_outside_the_allowlist_restores_nothing(app, client, owner):
    value = remembered_login(app, client, owner)
    with app.app_context():
        db.session.get(User, owner.user_id).ip_allowlist = ["127.0.0.0/8"]
        db.session.commit()
    browser = browser_with(app, value)

    response = browser.get("/", environ_base={"REMOTE_ADDR": "203.0.113.9"})

    assert response.status_code == 302 and response.location == "/login?next=/"
    assert browser.get_cookie(COOKIE) is None
    with app.app_context():
        event = db.session.scalars(sa.select(LoginEvent).order_by(LoginEvent.id.desc())).first()
        assert (event.succeeded, event.reason, event.ip) == (False, "ip not allowed", "203.0.113.9")
    assert signed_in(browser_with(app, value)), "from an allowed address it still works"


# --- two-factor users ----------------------------------------------------------------------------------


def test_a_2fa_users_cookie_from_before_logout_does_not_skip_the_code(app, client, owner):
    import time

    login(client)
    secret, _ = enable_2fa(app, client)
    browser = app.test_client()
    assert login(browser, remember="y").location == "/login/2fa"
    assert remember_cookie(browser) is None, "no cookie before the second step"
    done = post_form(browser, "/login/2fa", "/login/2fa", code=pyotp.TOTP(secret).at(time.time() + 30))
    assert done.location == "/"
    value = remember_cookie(browser)
    assert value

    close_browser(browser)
    assert signed_in(browser), "a remembered 2FA sign-in comes back (the code was given at sign-in)"

    browser.post("/logout", data={"csrf_token": csrf_token(browser, "/")})

    thief = browser_with(app, value)
    response = thief.get("/")
    assert response.status_code == 302 and response.location == "/login?next=/"
    assert not signed_in(thief)
