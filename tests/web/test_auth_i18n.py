"""The sign-in page, the Security page, the client menu and the error pages in another language.

The expected texts come from the catalogs (never hard-coded here): these tests pass once
`scripts/i18n.py fill` and `compile` have filled and built them.
"""

from __future__ import annotations

from flask_babel import force_locale, gettext

from app.clients.models import User
from app.extensions import db
from tests.helpers import login


def translated(app, text: str, language: str, **values) -> str:
    with app.test_request_context(), force_locale(language):
        result = gettext(text, **values)
    assert result != text % values if values else result != text, f"{text!r} has no {language} translation"
    return result


def test_login_page_in_romanian_for_an_anonymous_visitor(app, client):
    page = client.get("/login", headers={"Accept-Language": "ro"}).get_data(as_text=True)

    assert '<html lang="ro">' in page
    for text in ("Sign in to your account", "Forgot your password?", "Password", "Keep me signed in on this device"):
        assert translated(app, text, "ro") in page
    assert "Sign in to your account" not in page


def test_wrong_password_is_refused_in_hindi(app, client, owner):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "hi"
    response = login(client, password="wrong-password-1")

    assert response.status_code == 422
    assert translated(app, "The email or password is incorrect.", "hi") in response.get_data(as_text=True)


def test_security_page_menu_and_404_in_the_users_language(app, client, owner):
    with app.app_context():
        db.session.get(User, owner.user_id).language = "ru"
        db.session.commit()
    login(client)

    page = client.get("/account/security").get_data(as_text=True)
    for text in ("Two-factor authentication", "Signed-in sessions", "Sign out", "Dashboard", "Invoices"):
        assert translated(app, text, "ru") in page
    assert translated(app, "Client ID %(id)s", "ru", id=owner.client_id) in page

    missing = client.get("/no-such-page")
    assert missing.status_code == 404
    html = missing.get_data(as_text=True)
    assert translated(app, "Page not found", "ru") in html
    assert translated(app, "Error %(code)s", "ru", code=404) in html
