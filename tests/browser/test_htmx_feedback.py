"""In Chromium: an htmx answer that is not a success always shows the user something."""

from __future__ import annotations

import shutil
import threading

import pytest
from werkzeug.serving import make_server

from tests.conftest import make_app
from tests.helpers import make_owner, make_proforma, pay

pytestmark = pytest.mark.browser


@pytest.fixture
def served(sqlite_template, tmp_path):
    """(base URL, app) of a live server with the sign-in rate limits on."""
    db_path = tmp_path / "browser.sqlite3"
    shutil.copy(sqlite_template, db_path)
    app = make_app(
        f"sqlite:///{db_path}",
        RATELIMIT_ENABLED=True,
        RATE_LIMIT_LOGIN_ACCOUNT="5 per minute",
        RATE_LIMIT_LOGIN_IP="100 per minute",
    )
    from app.core.ratelimit import limiter

    with app.app_context():
        limiter.reset()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()


def sign_in(tab, base: str, email: str, password: str) -> None:
    tab.goto(f"{base}/login")
    tab.fill("#email", email)
    tab.fill("#password", password)
    tab.click("button[type=submit]")


def test_a_refused_htmx_save_shows_a_toast(served, page):
    base, app = served
    owner = make_owner(app)
    number = make_proforma(app, owner.client_id)
    sign_in(page, base, owner.email, owner.password)
    page.wait_for_url(f"{base}/")

    page.goto(f"{base}/invoices/{number}/billing")
    pay(app, number)  # paid meanwhile, in another tab say
    page.click("text=Save billing details")

    toast = page.wait_for_selector("#toasts .toast-error")
    assert toast.inner_text().startswith(f"Proforma {number} is paid: its billing details can no longer be changed.")
    assert page.get_attribute("#toasts", "aria-live") == "polite"
    assert page.is_visible("#billing-form")  # nothing was swapped away
    page.click("#toasts .toast-close")
    assert page.locator("#toasts .toast").count() == 0


def test_the_sixth_sign_in_shows_the_rate_limit_instead_of_doing_nothing(served, page):
    base, app = served
    owner = make_owner(app)
    page.goto(f"{base}/login")

    def sign_in_answered():
        """Wait for the server's answer to this attempt: the error shown from the last one is
        already on the page, so waiting for it would let the next click race this request."""
        return page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/login"))

    for _ in range(5):
        page.fill("#email", owner.email)
        page.fill("#password", "wrong-password-1")
        with sign_in_answered():
            page.click("button[type=submit]")
        page.wait_for_selector(".alert-error")
        assert page.inner_text(".alert-error") == "The email or password is incorrect."

    page.fill("#password", owner.password)  # right, but too late
    with sign_in_answered():
        page.click("button[type=submit]")

    toast = page.wait_for_selector("#toasts .toast-error")
    assert toast.inner_text().startswith("Too many attempts. Try again in ")
    assert page.locator(".alert-error").count() == 0, "the old 'incorrect' message no longer answers this attempt"
    assert page.url == f"{base}/login"


def test_a_network_error_shows_a_toast(served, page):
    base, app = served
    make_owner(app)
    page.goto(f"{base}/login")
    page.route("**/login", lambda route: route.abort())
    page.fill("#email", "owner@example.com")
    page.fill("#password", "correct-horse-1")
    page.click("button[type=submit]")

    toast = page.wait_for_selector("#toasts .toast-error")
    assert "could not reach" in toast.inner_text()
