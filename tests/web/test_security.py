"""Security: passwords and sessions, 2FA, IP allow-list, reset links, email change,
rate limits and headers."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
import sqlalchemy as sa

from app.clients.models import User
from app.extensions import db
from app.security.models import LoginEvent
from tests.helpers import csrf_from, csrf_token, login, make_owner, wrong_totp
from tests.support.security import enable_2fa, last_email, post_form, user_row

# --- password and sessions ------------------------------------------------------------------


def test_password_change_rotates_the_stamp_and_ends_other_sessions(app, client, owner):
    other_browser = app.test_client()
    login(client)
    login(other_browser)
    stamp = user_row(app, owner.user_id).security_stamp

    response = post_form(
        client,
        "/account/security",
        "/account/security/password",
        current_password=owner.password,
        new_password="a-new-long-password",
    )

    assert response.status_code == 302
    assert user_row(app, owner.user_id).security_stamp != stamp
    assert client.get("/").status_code == 200, "this browser stays signed in"
    assert other_browser.get("/").location == "/login?next=/", "the other session ended"
    assert login(app.test_client(), password="a-new-long-password").location == "/"


def test_wrong_current_password_changes_nothing(app, client, owner):
    login(client)
    response = post_form(
        client, "/account/security", "/account/security/password", current_password="nope", new_password="x" * 12
    )
    assert response.status_code == 422
    assert "Your current password is not correct." in response.get_data(as_text=True)
    assert login(app.test_client()).location == "/"


def test_a_session_can_be_ended_from_the_security_page(app, client, owner):
    other_browser = app.test_client()
    login(client)
    login(other_browser)
    page = client.get("/account/security").get_data(as_text=True)
    other_id = re.search(r'name="session_id" value="(\d+)"', page).group(1)

    post_form(client, "/account/security", "/account/security/sessions/end", session_id=other_id)

    assert other_browser.get("/").status_code == 302
    assert client.get("/").status_code == 200


def test_sensitive_changes_ask_for_the_password_again_on_a_non_fresh_session(app, client, owner):
    login(client)
    with client.session_transaction() as session:
        session["_fresh"] = False  # as after a login from an email link or a remember-me cookie
    response = post_form(
        client,
        "/account/security",
        "/account/security/password",
        current_password=owner.password,
        new_password="a-new-long-password",
    )
    assert response.status_code == 302 and response.location.startswith("/account/reauthenticate")
    assert user_row(app, owner.user_id).security_stamp  # unchanged below
    confirm = post_form(client, "/account/reauthenticate", "/account/reauthenticate", password=owner.password)
    assert confirm.status_code == 302
    with client.session_transaction() as session:
        assert session["_fresh"] is True


# --- two-factor authentication --------------------------------------------------------------


def test_enabling_2fa_needs_a_valid_code_then_login_asks_for_it(app, client, owner):
    login(client)
    secret, _ = enable_2fa(app, client)
    assert user_row(app, owner.user_id).has_2fa

    browser = app.test_client()
    response = login(browser)
    assert response.location == "/login/2fa"
    assert browser.get("/").status_code == 302, "not logged in before the second step"

    now_code = pyotp.TOTP(secret).now()
    replay = post_form(browser, "/login/2fa", "/login/2fa", code=now_code)  # used when enabling
    assert replay.status_code == 422 and "already used" in replay.get_data(as_text=True)

    next_code = pyotp.TOTP(secret).at(time.time() + 30)
    assert post_form(browser, "/login/2fa", "/login/2fa", code=next_code).location == "/"
    assert browser.get("/").status_code == 200


def test_a_recovery_code_works_once(app, client, owner):
    login(client)
    _, codes = enable_2fa(app, client)

    first = app.test_client()
    login(first)
    assert post_form(first, "/login/2fa", "/login/2fa", code=codes[0]).location == "/"

    second = app.test_client()
    login(second)
    again = post_form(second, "/login/2fa", "/login/2fa", code=codes[0])
    assert again.status_code == 422 and "That code is not right." in again.get_data(as_text=True)


def test_disabling_2fa_requires_a_code(app, client, owner):
    login(client)
    secret, _ = enable_2fa(app, client)
    refused = post_form(client, "/account/security", "/account/security/2fa/disable", code=wrong_totp(secret))
    assert refused.status_code == 422 and user_row(app, owner.user_id).has_2fa
    code = pyotp.TOTP(secret).at(time.time() + 30)
    assert post_form(client, "/account/security", "/account/security/2fa/disable", code=code).status_code == 302
    assert not user_row(app, owner.user_id).has_2fa


def test_password_reset_does_not_skip_2fa(app, client, owner):
    login(client)
    enable_2fa(app, client)
    browser = app.test_client()
    post_form(browser, "/forgot-password", "/forgot-password", email=owner.email)
    link = re.search(r"https://billing\.example\.test(/reset/\S+)", last_email(app, "password_reset").body_text)
    response = post_form(browser, link.group(1), link.group(1), new_password="another-long-password")
    assert response.location == "/login"
    assert login(browser, password="another-long-password").location == "/login/2fa"


# --- IP allow-list ------------------------------------------------------------------------------


def set_allowlist(app, user_id: int, entries: list[str]) -> None:
    with app.app_context():
        db.session.get(User, user_id).ip_allowlist = entries
        db.session.commit()


def test_an_ip_outside_the_allow_list_is_refused_at_login(app, client, owner):
    set_allowlist(app, owner.user_id, ["203.0.113.0/24"])
    response = login(client)
    assert response.status_code == 422
    # The same answer as a wrong password: a blocked address does not learn the password was right.
    assert "The email or password is incorrect." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    with app.app_context():
        event = db.session.scalars(sa.select(LoginEvent)).one()
        assert (event.succeeded, event.reason) == (False, "ip not allowed")


def test_an_ip_inside_the_allow_list_may_log_in(app, client, owner):
    set_allowlist(app, owner.user_id, ["127.0.0.0/8"])
    assert login(client).location == "/"


def test_an_ip_outside_the_allow_list_is_refused_mid_session(app, client, owner):
    login(client)
    assert client.get("/").status_code == 200
    set_allowlist(app, owner.user_id, ["198.51.100.7"])
    response = client.get("/")
    assert response.status_code == 302 and response.location == "/login"
    assert client.get("/").location == "/login?next=/", "logged out"


def test_the_form_refuses_a_list_that_locks_me_out_unless_confirmed(app, client, owner):
    login(client)
    refused = post_form(client, "/account/security", "/account/security/allowlist", ip_allowlist="198.51.100.7")
    assert refused.status_code == 422 and "you would be locked out" in refused.get_data(as_text=True)
    assert user_row(app, owner.user_id).ip_allowlist == []
    bad = post_form(client, "/account/security", "/account/security/allowlist", ip_allowlist="300.1.1.1")
    assert "300.1.1.1 is not an IP address or CIDR range." in bad.get_data(as_text=True)
    ok = post_form(client, "/account/security", "/account/security/allowlist", ip_allowlist="127.0.0.1\n10.0.0.0/8")
    assert ok.status_code == 302 and user_row(app, owner.user_id).ip_allowlist == ["127.0.0.1", "10.0.0.0/8"]


# --- password reset -------------------------------------------------------------------------------


def request_reset(app, email: str, headers=None) -> str | None:
    browser = app.test_client()
    token = csrf_from(browser.get("/forgot-password", headers=headers or {}).get_data(as_text=True))
    response = browser.post("/forgot-password", data={"csrf_token": token, "email": email}, headers=headers or {})
    assert response.status_code == 302
    found = re.search(r"https://billing\.example\.test(/reset/\S+)", last_email(app, "password_reset").body_text)
    return found.group(1)


def test_reset_link_works_once(app, client, owner):
    link = request_reset(app, owner.email)
    assert post_form(client, link, link, new_password="brand-new-password").location == "/login"
    assert login(app.test_client(), password="brand-new-password").location == "/"
    again = client.get(link)
    assert again.location == "/forgot-password"


def test_a_newer_reset_request_voids_the_older_link(app, client, owner):
    old = request_reset(app, owner.email)
    new = request_reset(app, owner.email)
    assert old != new
    assert client.get(old).location == "/forgot-password"
    assert client.get(new).status_code == 200


def test_reset_answers_the_same_for_unknown_addresses(app, client, owner):
    answers = []
    for email in (owner.email, "nobody@example.com"):
        browser = app.test_client()
        token = csrf_token(browser, "/forgot-password")
        response = browser.post("/forgot-password", data={"csrf_token": token, "email": email}, follow_redirects=True)
        answers.append(re.search(r'<p class="flash[^"]*">([^<]+)</p>', response.get_data(as_text=True)).group(1))
    assert answers[0] == answers[1]


def test_reset_link_uses_server_name_even_with_a_forged_host(app, owner):
    link_path = request_reset(app, owner.email, headers={"Host": "evil.example"})
    body = last_email(app, "password_reset").body_text
    assert f"https://billing.example.test{link_path}" in body and "evil.example" not in body


# --- email change -----------------------------------------------------------------------------------


def test_email_change_is_confirmed_by_the_new_address_and_told_to_the_old(app, client, owner):
    login(client)
    post_form(
        client, "/account/security", "/account/security/email", new_email="new@example.com", password=owner.password
    )
    assert user_row(app, owner.user_id).email == owner.email, "nothing changes before confirmation"
    message = last_email(app, "email_change")
    assert message.recipients == ["new@example.com"]
    link = re.search(r"https://billing\.example\.test(/account/confirm-email/\S+)", message.body_text).group(1)

    app.test_client().get(link)

    assert user_row(app, owner.user_id).email == "new@example.com"
    notice = last_email(app, "email_changed")
    assert notice.recipients == [owner.email] and "new@example.com" in notice.body_text
    assert app.test_client().get(link).status_code == 302  # used: the stamp rotated
    assert user_row(app, owner.user_id).email == "new@example.com"


# --- rate limits and headers ------------------------------------------------------------------------


class TestRateLimits:
    @pytest.fixture
    def app_overrides(self):
        return {"RATELIMIT_ENABLED": True, "RATE_LIMIT_LOGIN_ACCOUNT": "3 per minute"}

    def test_login_answers_429_after_the_configured_attempts(self, app, client, owner):
        from app.core.ratelimit import limiter

        limiter.reset()
        statuses = [login(client, password="wrong-password!").status_code for _ in range(4)]
        assert statuses == [422, 422, 422, 429]
        other = make_owner(app, email="someone@example.com")
        assert login(app.test_client(), other.email, other.password).location == "/", "per account, not global"


def test_every_login_2fa_reset_and_token_route_is_rate_limited(app):
    sensitive = re.compile(r"login|2fa|reset|forgot|confirm|invite|reauth|<token>|^/l/")
    checked = []
    for rule in app.url_map.iter_rules():
        if "logout" in rule.endpoint or not sensitive.search(rule.rule + " " + rule.endpoint):
            continue
        view = app.view_functions[rule.endpoint]
        assert getattr(view, "_rate_limited", False), f"{rule.rule} ({rule.endpoint}) is not rate-limited"
        checked.append(rule.endpoint)
    assert {"auth.login", "auth.login_twofactor", "auth.forgot_password", "auth.reset_password"} <= set(checked)


def test_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_remember_me_restores_the_login_and_records_a_session(app, client, owner):
    login(client, remember="y")
    client.delete_cookie("session")  # the browser was closed
    assert client.get("/").status_code == 200
    with app.app_context():
        from app.security.models import UserSession

        # The restore continues the remembered session: still one browser under Security.
        assert db.session.scalar(sa.select(sa.func.count(UserSession.id)).where(UserSession.ended_at.is_(None))) == 1


def test_password_change_leaves_one_live_session_for_this_browser(app, client, owner):
    login(client)
    post_form(
        client,
        "/account/security",
        "/account/security/password",
        current_password=owner.password,
        new_password="a-new-long-password",
    )
    with app.app_context():
        from app.security.models import UserSession

        live = db.session.scalar(sa.select(sa.func.count(UserSession.id)).where(UserSession.ended_at.is_(None)))
    assert live == 1


def test_the_2fa_step_expires(app, client, owner, monkeypatch):
    login(client)
    enable_2fa(app, client)
    browser = app.test_client()
    login(browser)
    real = time.time
    assert browser.get("/login/2fa").status_code == 200
    monkeypatch.setattr(time, "time", lambda: real() + 600)
    response = browser.get("/login/2fa")
    assert response.status_code == 302 and response.location == "/login"
    assert browser.get("/").status_code == 302


class TestTwoFactorRateLimit:
    @pytest.fixture
    def app_overrides(self):
        return {
            "RATELIMIT_ENABLED": True,
            "RATE_LIMIT_LOGIN_ACCOUNT": "3 per minute",
            "RATE_LIMIT_LOGIN_IP": "100 per minute",
        }

    def test_the_2fa_step_is_limited_per_user_whatever_the_form_says(self, app, client, owner):
        from app.core.ratelimit import limiter

        login(client)
        enable_2fa(app, client)
        limiter.reset()
        browser = app.test_client()
        login(browser)
        statuses = [
            post_form(browser, "/login/2fa", "/login/2fa", code="000000", email=f"x{i}@example.com").status_code
            for i in range(4)
        ]
        assert statuses[-1] == 429


@pytest.mark.parametrize(("zone", "abbreviations"), [("Europe/Bucharest", {"EET", "EEST"}), ("UTC", {"UTC"})])
def test_a_sign_in_alert_tells_the_time_in_the_clients_zone(app, owner, zone, abbreviations):
    from app.clients.models import Client

    with app.app_context():
        db.session.get(User, owner.user_id).login_alerts = True
        db.session.get(Client, owner.client_id).timezone = zone
        db.session.commit()

    login(app.test_client())

    alert = last_email(app, "login_alert")
    when = re.search(r"When: (\d\d \w+ \d{4}, \d\d:\d\d) (\w+)", alert.body_text)
    assert when and when.group(2) in abbreviations, alert.body_text
    assert "127.0.0.1" in alert.body_text and owner.email in alert.recipients


# --- the 2FA seed at rest -------------------------------------------------------------------


def test_the_2fa_seed_is_stored_sealed_and_opens_only_with_the_key(app, client, owner):
    from app.core.secretbox import SealBroken, unseal
    from app.security.services import totp_secret

    login(client)
    secret, _codes = enable_2fa(app, client)
    with app.app_context():
        user = db.session.get(User, owner.user_id)
        stored = user.totp_secret
        assert stored.startswith("v1:") and secret not in stored
        assert unseal(stored, f"totp:{owner.user_id}") == secret
        with pytest.raises(SealBroken):
            unseal(stored, "totp:999")  # copied onto another user, it does not open
        for broken in ("v1:not-base64!!", "v1:", "JBSWY3DPEHPK3PXP"):
            with pytest.raises(SealBroken):
                unseal(broken, f"totp:{owner.user_id}")

        # SECRET_KEY rotated, the old one kept as a fallback: it opens, and is sealed again with the new key.
        app.config["SECRET_KEY"], app.config["SECRET_KEY_FALLBACKS"] = "a-new-key", ["testing-secret"]
        assert totp_secret(user) == secret and user.totp_secret != stored
        app.config["SECRET_KEY_FALLBACKS"] = []
        assert totp_secret(user) == secret
        user.totp_secret = stored  # sealed with a key that is gone: no code works (recovery codes do)
        assert totp_secret(user) is None
        db.session.rollback()


def test_the_migration_seals_seeds_stored_in_the_clear(tmp_path):
    from flask_migrate import downgrade, upgrade

    from app.core.secretbox import unseal
    from tests.conftest import make_app

    app = make_app(f"sqlite:///{tmp_path / 'legacy.sqlite3'}")
    with app.app_context():
        upgrade(revision="b7e2f4a91c03")
        db.session.execute(
            sa.text(
                "INSERT INTO clients (kind, status, currency, language, name, country, balance_minor, created_at) "
                "VALUES ('person', 'active', 'EUR', 'en', 'Old Client', 'RO', 0, CURRENT_TIMESTAMP)"
            )
        )
        db.session.execute(
            sa.text(
                "INSERT INTO users (client_id, role, status, email, name, password_hash, totp_secret, sms_opt_in, "
                "security_stamp, created_at, language, ip_allowlist, login_alerts, reset_nonce, permissions, "
                "notification_types) VALUES (1, 'owner', 'active', 'old@example.com', 'Old', 'x', "
                "'JBSWY3DPEHPK3PXP', 0, 's', CURRENT_TIMESTAMP, 'en', '[]', 0, 'n', '[]', '[]')"
            )
        )
        db.session.commit()
        upgrade()
        stored = db.session.scalar(sa.text("SELECT totp_secret FROM users"))
        assert stored.startswith("v1:") and unseal(stored, "totp:1") == "JBSWY3DPEHPK3PXP"
        downgrade(revision="b7e2f4a91c03")
        assert db.session.scalar(sa.text("SELECT totp_secret FROM users")) == "JBSWY3DPEHPK3PXP"
        db.engine.dispose()


def test_an_email_change_link_for_an_address_taken_meanwhile_changes_nothing(app, client, owner):
    login(client)
    post_form(
        client, "/account/security", "/account/security/email", new_email="new@example.com", password=owner.password
    )
    link = re.search(
        r"https://billing\.example\.test(/account/confirm-email/\S+)", last_email(app, "email_change").body_text
    ).group(1)
    make_owner(app, email="new@example.com")

    browser = app.test_client()
    response = browser.get(link)

    assert response.status_code == 302 and response.location == "/login"
    assert "Another account now uses this email address." in browser.get("/login").get_data(as_text=True)
    assert user_row(app, owner.user_id).email == owner.email
