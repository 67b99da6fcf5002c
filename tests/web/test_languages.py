"""Which language a page speaks, and dates, money and country names in it."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import sqlalchemy as sa
from flask_babel import force_locale

from app.clients.models import Client, User
from app.core.i18n import LANGUAGES, recipient_language
from app.core.money import format_money
from app.core.templating import country_name, day, local_time
from app.extensions import db
from app.notify.models import EmailMessage
from tests.helpers import csrf_token, login


def _lang(html: str) -> str:
    return re.search(r'<html lang="([^"]+)"', html)[1]


def _set(app, account, *, user: str | None = None, client: str | None = None) -> None:
    with app.app_context():
        db.session.get(User, account.user_id).language = user
        db.session.get(Client, account.client_id).language = client or "en"
        db.session.commit()


def test_exactly_the_five_languages_are_offered():
    assert list(LANGUAGES) == ["en", "ro", "es", "ru", "hi"]


def test_an_anonymous_page_follows_the_browser_then_the_switcher(app):
    web = app.test_client()
    assert _lang(web.get("/login").get_data(as_text=True)) == "en"
    assert (
        _lang(web.get("/login", headers={"Accept-Language": "ro-RO,ro;q=0.9,en;q=0.5"}).get_data(as_text=True)) == "ro"
    )
    # A language not offered falls through to the next one the browser accepts, else the default.
    assert _lang(web.get("/login", headers={"Accept-Language": "de-DE,es;q=0.8"}).get_data(as_text=True)) == "es"
    assert _lang(web.get("/login", headers={"Accept-Language": "de-DE"}).get_data(as_text=True)) == "en"

    page = web.get("/login").get_data(as_text=True)
    assert 'action="/language"' in page and '<option value="hi" lang="hi" >हिन्दी</option>' in page
    token = csrf_token(web, "/login")
    answer = web.post("/language", data={"language": "hi", "next": "/register", "csrf_token": token})
    assert answer.status_code == 302 and answer.headers["Location"] == "/register"
    # The switcher beats the browser's own preference.
    assert _lang(web.get("/login", headers={"Accept-Language": "ro"}).get_data(as_text=True)) == "hi"


def test_the_switcher_refuses_an_unknown_language_and_an_outside_next(app):
    web = app.test_client()
    token = csrf_token(web, "/login")
    answer = web.post("/language", data={"language": "xx", "next": "https://evil.example/", "csrf_token": token})
    assert answer.headers["Location"] == "/login"
    assert _lang(web.get("/login").get_data(as_text=True)) == "en"
    assert web.post("/language", data={"language": "ro"}).status_code == 400  # no CSRF token


def test_a_signed_in_user_reads_their_choice_else_their_clients_language(app, owner):
    web = app.test_client()
    login(web)
    _set(app, owner, user=None, client="ru")
    assert _lang(web.get("/dashboard", headers={"Accept-Language": "es"}).get_data(as_text=True)) == "ru"
    _set(app, owner, user="hi", client="ru")
    assert _lang(web.get("/dashboard", headers={"Accept-Language": "es"}).get_data(as_text=True)) == "hi"


def test_the_sign_up_language_becomes_the_accounts_even_confirmed_elsewhere(app):
    from tests.support.signup import follow_confirm_link, post_register

    post_register(app.test_client(), headers={"Accept-Language": "ro"})
    with app.app_context():
        confirm = db.session.scalar(sa.select(EmailMessage).where(EmailMessage.template == "signup_confirm"))
        assert _lang(confirm.body_html) == "ro"  # the confirmation email speaks the form's language
    follow_confirm_link(app, app.test_client())  # another browser, in English
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "maria@example.com"))
        assert user.client.language == "ro" and user.language is None
        assert recipient_language(user, user.client) == "ro"


def test_dates_money_and_countries_are_written_in_the_language(app):
    moment = datetime(2026, 12, 2, 13, 5, tzinfo=UTC)
    written = {}
    with app.test_request_context():
        for code in LANGUAGES:
            with force_locale(code):
                written[code] = (
                    day(date(2026, 12, 2), "%d %B %Y"),
                    local_time(moment, "%d %b %Y, %H:%M %Z", "Europe/Bucharest"),
                    format_money(123456, "EUR").replace("\xa0", " "),
                    country_name("DE"),
                )
    assert written["en"] == ("02 December 2026", "02 Dec 2026, 15:05 EET", "€1,234.56", "Germany")
    # Romanian invoices write the code after the amount (CLDR: "EUR").
    assert written["ro"] == ("2 decembrie 2026", "2 dec. 2026, 15:05 EET", "1.234,56 EUR", "Germania")
    # Each language writes a whole date its own way.
    assert written["ru"][0] == "2 декабря 2026\u202fг." and written["ru"][3] == "Германия"
    assert written["es"][0] == "2 de diciembre de 2026" and written["es"][2] == "1.234,56 €"
    assert written["hi"][0] == "2 दिसंबर 2026" and written["hi"][3] == "जर्मनी"
    assert all(text.endswith("15:05 EET") for _, text, _, _ in written.values())
