"""The real thing in headless Chromium: htmx forms, CSRF header, redirects."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from tests.conftest import make_app

pytestmark = pytest.mark.browser


@pytest.fixture
def live_server(sqlite_template, tmp_path):
    import shutil

    db_path = tmp_path / "browser.sqlite3"
    shutil.copy(sqlite_template, db_path)
    app = make_app(f"sqlite:///{db_path}")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def emailed_link(tmp_path, template: str) -> str:
    """The path of the link in the last `template` email in the live server's database."""
    import re
    import sqlite3

    with sqlite3.connect(tmp_path / "browser.sqlite3") as conn:
        (body,) = conn.execute(
            "SELECT body_text FROM email_messages WHERE template = ? ORDER BY id DESC LIMIT 1", (template,)
        ).fetchone()
    return re.search(r"https?://[^/\s]+(/\S+)", body).group(1)


def test_sign_up_with_htmx_then_sign_out_and_in(live_server, page, tmp_path):
    page.goto(f"{live_server}/register")
    page.click("button[type=submit]")
    # htmx swapped the 422 form in place: errors beside the fields, same URL.
    page.wait_for_selector("#email-msg .error")
    assert page.inner_text("#email-msg") == "Enter your email address."
    assert page.url == f"{live_server}/register"

    page.fill("#name", "Elena Marin")
    page.fill("#email", "elena@example.com")
    page.fill("#password", "a-long-password")
    page.fill("#phone", "+40 722 123 456")
    page.check("#sms_opt_in")
    page.click("button[type=submit]")  # htmx POST with the CSRF header from the layout
    page.wait_for_url(f"{live_server}/register/sent")
    assert "Check your inbox" in page.inner_text("main")
    page.goto(live_server + emailed_link(tmp_path, "signup_confirm"))
    page.click("text=Create my account")
    page.wait_for_url(f"{live_server}/")
    assert "Hello, Elena" in page.inner_text("main")
    assert "CLIENT ID\n1\n" in page.inner_text("#summary")  # uppercased by CSS

    page.click("text=Sign out")
    page.wait_for_url(f"{live_server}/login")
    page.fill("#email", "elena@example.com")
    page.fill("#password", "wrong-password-1")
    page.click("button[type=submit]")
    page.wait_for_selector(".alert-error")
    assert page.inner_text(".alert-error") == "The email or password is incorrect."

    page.fill("#password", "a-long-password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/")
    assert "Hello, Elena" in page.inner_text("main")

    # Pages with htmx behaviour still work under the CSP.
    page.goto(f"{live_server}/account/security")
    assert "Two-factor authentication" in page.inner_text("main")
    page.goto(f"{live_server}/account/security/2fa")
    assert page.locator(".qr svg").count() == 1
