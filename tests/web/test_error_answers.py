"""Every error answer tells the user something: a toast for htmx, a styled page
in the reader's own layout otherwise (app/errors.py, app/core/htmx.py)."""

from __future__ import annotations

import json

import pytest

from tests.helpers import csrf_token, login, make_proforma, pay
from tests.support.security import enable_2fa, post_form
from tests.support.trusted import add_trusted

HTMX = {"HX-Request": "true"}
CLIENT_NAV = 'aria-label="Client area"'


def toast_of(response) -> dict:
    """The toast an htmx answer carries in HX-Trigger."""
    return json.loads(response.headers["HX-Trigger"])["toast"]


def billing_post(client, number: str, headers=None):
    return client.post(
        f"/invoices/{number}/billing",
        data={"csrf_token": csrf_token(client, "/"), "payer": "new", "kind": "person", "name": "X", "country": "RO"},
        headers={**(headers or {}), **({"X-CSRFToken": csrf_token(client, "/")} if headers else {})},
    )


def test_a_refused_htmx_save_on_a_paid_proforma_answers_a_toast_and_no_swap(app, client, owner):
    number = make_proforma(app, owner.client_id)
    pay(app, number)
    login(client)

    response = billing_post(client, number, HTMX)

    assert response.status_code == 409
    assert toast_of(response) == {
        "message": f"Proforma {number} is paid: its billing details can no longer be changed.",
        "level": "error",
    }
    assert response.headers["HX-Reswap"] == "none" and response.get_data(as_text=True) == ""


def test_a_refused_save_as_a_page_is_a_409_page_with_the_navigation(app, client, owner):
    number = make_proforma(app, owner.client_id)
    pay(app, number)
    login(client)

    response = billing_post(client, number)
    page = response.get_data(as_text=True)

    assert response.status_code == 409
    assert "<h1>That can no longer be done</h1>" in page
    assert f"Proforma {number} is paid: its billing details can no longer be changed. Nothing was changed." in page
    assert "Something was wrong" not in page and CLIENT_NAV in page


def test_not_found_signed_in_keeps_the_navigation_and_signed_out_the_sign_in_layout(app, client, owner):
    assert CLIENT_NAV not in client.get("/services/12345").get_data(as_text=True)  # a login redirect
    anonymous = client.get("/no-such-page")
    assert anonymous.status_code == 404 and CLIENT_NAV not in anonymous.get_data(as_text=True)
    assert 'class="card auth-card"' in anonymous.get_data(as_text=True)
    assert "Go to the sign-in page" in anonymous.get_data(as_text=True)

    login(client)
    page = client.get("/services/12345")
    assert page.status_code == 404
    assert "<h1>Page not found</h1>" in page.get_data(as_text=True) and CLIENT_NAV in page.get_data(as_text=True)

    htmx = client.get("/services/12345", headers=HTMX)
    assert htmx.status_code == 404 and toast_of(htmx)["message"].startswith("That was not found")


def test_forbidden_is_a_page_with_the_navigation_or_a_toast(app, client, owner):
    add_trusted(app, owner.client_id, ["invoices.view"], "viewer@example.com")
    login(client, "viewer@example.com", "trusted-password-1")

    page = client.get("/wallet")
    assert page.status_code == 403
    assert "<h1>You don't have access to this</h1>" in page.get_data(as_text=True)
    assert CLIENT_NAV in page.get_data(as_text=True)

    htmx = client.get("/wallet", headers=HTMX)
    assert htmx.status_code == 403 and "don't have access" in toast_of(htmx)["message"]


def test_an_expired_form_tells_so(app, client, owner):
    client.get("/login")
    page = client.post("/login", data={"email": owner.email, "password": owner.password})
    assert page.status_code == 400 and "<h1>This form has expired</h1>" in page.get_data(as_text=True)


def test_a_server_error_is_the_styled_page_or_a_toast(app, client, owner):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def boom():
        raise RuntimeError("a bug")

    # auth.* is public in the policy table, so the test route is not refused first.
    app.add_url_rule("/boom", "auth.boom", boom)
    login(client)

    page = client.get("/boom")
    assert page.status_code == 500
    assert "<h1>Something went wrong on our side</h1>" in page.get_data(as_text=True)
    assert CLIENT_NAV in page.get_data(as_text=True)
    htmx = client.get("/boom", headers=HTMX)
    assert htmx.status_code == 500 and toast_of(htmx)["message"].startswith("Something went wrong on our side")


def test_a_view_toast_rides_on_htmx_and_is_flashed_on_a_redirect(app, client, owner):
    from flask import redirect

    from app.core.htmx import toast

    def hello():
        toast("Saved.", "success")
        return "swapped"

    def away():
        toast("Saved, then away.", "success")
        return redirect("/")

    app.add_url_rule("/hello", "auth.hello", hello)
    app.add_url_rule("/away", "auth.away", away)
    login(client)

    assert toast_of(client.get("/hello", headers=HTMX)) == {"message": "Saved.", "level": "success"}
    away_response = client.get("/away", headers=HTMX)
    assert away_response.status_code == 302 and "HX-Trigger" not in away_response.headers
    page = client.get("/").get_data(as_text=True)
    assert '<p class="flash flash-success">Saved, then away.</p>' in page  # flashed on the next page
    assert '<p class="flash flash-success">Saved.</p>' not in page  # the toast was not flashed as well

    client.get("/hello")  # a page request flashes it
    assert '<p class="flash flash-success">Saved.</p>' in client.get("/").get_data(as_text=True)


class TestTooManyRequests:
    @pytest.fixture
    def app_overrides(self):
        return {
            "RATELIMIT_ENABLED": True,
            "RATE_LIMIT_LOGIN_ACCOUNT": "3 per minute",
            "RATE_LIMIT_LOGIN_IP": "100/minute",
        }

    def test_the_2fa_step_answers_a_styled_page_that_says_when_to_try_again(self, app, client, owner):
        from app.core.ratelimit import limiter

        login(client)
        enable_2fa(app, client)
        limiter.reset()
        browser = app.test_client()
        login(browser)
        answers = [post_form(browser, "/login/2fa", "/login/2fa", code="000000") for _ in range(4)]

        page = answers[-1]
        assert page.status_code == 429
        html = page.get_data(as_text=True)
        assert "<h1>Too many attempts</h1>" in html and "Too Many Requests" not in html
        assert "Try again in " in html and ("seconds." in html or "1 minute." in html)
        assert 'class="card auth-card"' in html  # the sign-in layout: nobody is signed in yet
        assert int(page.headers["Retry-After"]) > 0

    def test_htmx_sign_in_attempts_beyond_the_limit_get_a_toast(self, app, client, owner):
        from app.core.ratelimit import limiter

        limiter.reset()
        token = csrf_token(client, "/login")
        data = {"email": owner.email, "password": "wrong-password-1", "csrf_token": token}
        answers = [client.post("/login", data=data, headers=HTMX) for _ in range(4)]

        assert [a.status_code for a in answers] == [422, 422, 422, 429]
        message = toast_of(answers[-1])["message"]
        assert message.startswith("Too many attempts. Try again in ")
        assert answers[-1].headers["HX-Reswap"] == "none"
