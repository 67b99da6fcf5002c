"""The interface language in My details, and the account pages in another language.

The expected texts come from the catalogs (never hard-coded): these pass once they are filled."""

from __future__ import annotations

import re

import pytest
from flask_babel import force_locale, gettext

from app.clients.models import User
from app.core.i18n import LANGUAGES
from app.extensions import db
from tests.helpers import login
from tests.support.details import PERSON_FORM, post_details


def translated(app, language: str, message: str, **values) -> str:
    with app.test_request_context(), force_locale(language):
        return gettext(message, **values)


def stored_language(app, user_id: int) -> str | None:
    with app.app_context():
        return db.session.get(User, user_id).language


def set_language(app, user_id: int, language: str | None) -> None:
    with app.app_context():
        db.session.get(User, user_id).language = language
        db.session.commit()


def test_the_menu_offers_the_accounts_language_then_the_five(app, client, owner):
    login(client)
    html = client.get("/account/details").get_data(as_text=True)
    menu = re.search(r'<select[^>]*id="language"[^>]*>(.*?)</select>', html, re.S)
    assert menu
    options = re.findall(r'<option(?: selected)? value="(\w*)">([^<]*)</option>', menu.group(1))
    assert options == [("", "The account&#39;s language (English)"), *LANGUAGES.items()]


def test_choosing_romanian_makes_the_next_page_romanian_and_back(app, client, owner):
    login(client)
    response = post_details(client, PERSON_FORM, language="ro")
    assert response.status_code == 302 and response.location.endswith("/account/details")
    assert stored_language(app, owner.user_id) == "ro"

    page = client.get("/account/details").get_data(as_text=True)
    heading, saved = translated(app, "ro", "My details"), translated(app, "ro", "Your details were saved.")
    assert heading != "My details" and f"<h1>{heading}</h1>" in page
    assert saved != "Your details were saved." and saved in page  # the flash speaks the new language
    assert '<html lang="ro"' in page
    account = translated(app, "ro", "The account's language (%(name)s)", name="English")
    assert f'<option value="">{account}</option>' in page and '<option selected value="ro">' in page

    # "The account's language" again: the user follows the account (English) once more.
    assert post_details(client, PERSON_FORM, language="").status_code == 302
    assert stored_language(app, owner.user_id) is None
    assert "<h1>My details</h1>" in client.get("/account/details").get_data(as_text=True)


@pytest.mark.parametrize("language", ["ro", "hi"])
def test_the_account_pages_render_in_the_users_language(app, client, owner, language):
    set_language(app, owner.user_id, language)
    login(client)
    pages = {
        "/trusted-users": "People you allow to use this account, such as your accountant or your system administrator.",
        "/account/notifications": "Emails you receive",
        "/account/privacy": "Download your data",
        "/account/documents": "No documents yet.",
    }
    for url, message in pages.items():
        html = client.get(url).get_data(as_text=True)
        expected = translated(app, language, message)
        assert expected != message and expected in html, url
        assert message not in html, url


def test_a_bad_invite_link_is_refused_in_the_visitors_language(app, client):
    response = client.get("/trusted-users/invite/forged", headers={"Accept-Language": "ro"})
    expected = translated(app, "ro", "Invitation not valid")
    assert response.status_code == 400 and expected != "Invitation not valid"
    assert expected in response.get_data(as_text=True)
