"""Login, logout, sessions, CSRF and the safe defaults every page inherits."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.clients.models import Client, ClientStatus, User, new_security_stamp
from app.extensions import db
from tests.helpers import csrf_from, csrf_token, login


def test_login_shows_dashboard_with_client_id_and_balance(client, owner):
    response = login(client)
    assert response.status_code == 302 and response.location == "/"

    page = client.get("/").get_data(as_text=True)
    assert f"Client ID {owner.client_id}" in page
    assert "€0.00" in page
    assert "Ion Ionescu" in page


def test_login_records_time_and_ip(app, client, owner):
    login(client)
    with app.app_context():
        user = db.session.get(User, owner.user_id)
        assert user.last_login_ip == "127.0.0.1"
        assert user.last_login_at is not None


@pytest.mark.parametrize(
    ("email", "password"),
    [("owner@example.com", "wrong-password-1"), ("nobody@example.com", "correct-horse-1")],
)
def test_wrong_password_and_unknown_email_get_the_same_answer(client, owner, email, password):
    response = login(client, email=email, password=password)

    assert response.status_code == 422
    assert "The email or password is incorrect." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302, "nobody is logged in"


def test_logout_is_a_post_and_ends_the_session(client, owner):
    login(client)
    assert client.get("/logout").status_code == 405

    token = csrf_token(client, "/")
    response = client.post("/logout", data={"csrf_token": token})

    assert response.status_code == 302 and response.location == "/login"
    assert client.get("/").location == "/login?next=/"


def test_pages_need_login_and_keep_next(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.location == "/login?next=/"


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/x", "/\\evil.example"])
def test_login_never_redirects_off_site(client, owner, next_url):
    token = csrf_token(client, "/login")
    response = client.post(
        "/login",
        query_string={"next": next_url},
        data={"email": owner.email, "password": owner.password, "csrf_token": token},
    )
    assert response.location == "/"


def test_login_follows_a_local_next(client, owner):
    token = csrf_token(client, "/login")
    response = client.post(
        "/login?next=/%3Fpage%3D2",
        data={"email": owner.email, "password": owner.password, "csrf_token": token},
    )
    assert response.location == "/?page=2"


def test_session_is_renewed_at_login(client, owner):
    """Nothing planted in the session before login survives it (no fixation)."""
    old_token = csrf_token(client, "/login")
    with client.session_transaction() as session:
        session["planted"] = "by-an-attacker"
    login(client)

    with client.session_transaction() as session:
        assert "planted" not in session
    response = client.post("/logout", data={"csrf_token": old_token})
    assert response.status_code == 400, "the pre-login CSRF token no longer works"


def test_logout_clears_the_whole_session(client, owner):
    login(client)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    with client.session_transaction() as session:
        assert "_user_id" not in session and "csrf_token" not in session


@pytest.mark.parametrize("headers", [{}, {"HX-Request": "true"}], ids=["form", "htmx"])
def test_post_without_csrf_token_is_refused(app, client, owner, headers):
    client.get("/login")  # a session exists, but the token is not sent
    response = client.post("/login", data={"email": owner.email, "password": owner.password}, headers=headers)

    assert response.status_code == 400
    # A page says so; htmx gets the same words as a toast (app/errors.py).
    answer = response.headers.get("HX-Trigger", "") if headers else response.get_data(as_text=True)
    assert "This form has expired" in answer
    with app.app_context():
        assert db.session.get(User, owner.user_id).last_login_at is None


def test_htmx_post_with_token_in_header_is_accepted(client, owner):
    token = csrf_token(client, "/login")
    response = client.post(
        "/login",
        data={"email": owner.email, "password": owner.password},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/"


def test_htmx_request_gets_the_partial_and_a_normal_one_the_page(client, owner):
    login(client)

    full = client.get("/").get_data(as_text=True)
    partial = client.get("/", headers={"HX-Request": "true"}).get_data(as_text=True)
    boosted = client.get("/", headers={"HX-Request": "true", "HX-Boosted": "true"}).get_data(as_text=True)

    assert full.startswith("<!doctype html>") and 'id="summary"' in full and "<nav" in full
    assert partial.lstrip().startswith('<section class="tiles" id="summary"')
    assert "<html" not in partial and "<nav" not in partial
    assert boosted.startswith("<!doctype html>")


def test_layout_sends_csrf_header_and_disables_htmx_history(client):
    page = client.get("/login").get_data(as_text=True)
    # Read both tokens from the same page: the signed token carries a timestamp, so two pages may differ.
    header = re.search(r"hx-headers='\{\"X-CSRFToken\": \"([^\"]+)\"\}'", page)
    assert header, "the layout does not send the CSRF token in hx-headers"
    assert header.group(1) == csrf_from(page)
    refused = client.post(
        "/login", data={"email": "x@example.com", "password": "wrong"}, headers={"HX-Request": "true"}
    )
    accepted = client.post(
        "/login",
        data={"email": "x@example.com", "password": "wrong"},
        headers={"HX-Request": "true", "X-CSRFToken": header.group(1)},
    )
    assert refused.status_code == 400 and accepted.status_code != 400
    assert 'hx-history="false"' in page
    assert "/static/vendor/htmx-2.0.11.min.js" in page


def test_private_pages_are_not_cached(client, owner):
    login(client)
    assert client.get("/").headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("change", ["close_client", "suspend_client", "anonymize_client", "rotate_stamp"])
def test_session_ends_when_account_is_closed_or_stamp_rotates(app, client, owner, change):
    login(client)
    assert client.get("/").status_code == 200
    with app.app_context():
        user = db.session.get(User, owner.user_id)
        if change == "rotate_stamp":
            user.security_stamp = new_security_stamp()
        else:
            user.client.status = {
                "close_client": ClientStatus.CLOSED,
                "suspend_client": ClientStatus.SUSPENDED,
                "anonymize_client": ClientStatus.ANONYMIZED,
            }[change]
        db.session.commit()

    assert client.get("/").location == "/login?next=/"


def test_closed_client_cannot_log_in(app, client, owner):
    with app.app_context():
        db.session.execute(sa.update(Client).values(status=ClientStatus.CLOSED))
        db.session.commit()
    response = login(client)
    assert response.status_code == 422
    assert "The email or password is incorrect." in response.get_data(as_text=True)


def test_healthz_answers_ok_without_touching_the_database(app, client, owner):
    login(client)  # even with a session cookie the user is not loaded
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        response = client.get("/healthz")
        healthz_statements = list(statements)
        client.get("/")  # proves the listener sees a page that does query
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)

    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok"
    assert healthz_statements == []
    assert statements, "the dashboard should have queried"


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_forwarded_for_is_ignored_without_trusted_proxies(app, client, owner):
    token = csrf_token(client)
    client.post(
        "/login",
        data={"email": owner.email, "password": owner.password, "csrf_token": token},
        headers={"X-Forwarded-For": "203.0.113.9"},
    )
    with app.app_context():
        assert db.session.get(User, owner.user_id).last_login_ip == "127.0.0.1"


class TestOneTrustedProxy:
    """Behind one trusted proxy, the client IP is the address that proxy saw."""

    @pytest.fixture
    def app_overrides(self):
        return {"TRUSTED_PROXY_HOPS": 1}

    def test_one_trusted_hop_takes_the_last_forwarded_address(self, app, client, owner):
        token = csrf_token(client)
        client.post(
            "/login",
            data={"email": owner.email, "password": owner.password, "csrf_token": token},
            headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.9"},
        )
        with app.app_context():
            assert db.session.get(User, owner.user_id).last_login_ip == "203.0.113.9"
