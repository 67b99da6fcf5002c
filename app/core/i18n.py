"""Languages: which one a request speaks, and the gettext functions every package uses.

The language of a page is, in order: the signed-in user's choice (My details), else
their client's default language, else the one picked on the login page's switcher, else
the browser's Accept-Language, else DEFAULT_LANGUAGE. An email, SMS or PDF is in its
recipient's language (`recipient_language`), whoever's request wrote it.

Strings are marked with `_` (now), `_l` (lazy: form labels, module-level messages) and
`ngettext` (plurals); `make messages` extracts them into translations/.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from flask import Flask, current_app, has_request_context, request, session
from flask_babel import Babel, force_locale, get_locale, lazy_ngettext, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

__all__ = [
    "LANGUAGES",
    "_",
    "_l",
    "current_language",
    "in_language",
    "lazy_ngettext",
    "ngettext",
    "recipient_language",
]

#: The languages offered, by their own names: exactly these five have catalogs.
LANGUAGES: dict[str, str] = {
    "en": "English",
    "ro": "Română",
    "es": "Español",
    "ru": "Русский",
    "hi": "हिन्दी",
}

#: Where the login page's switcher keeps an anonymous visitor's choice.
SESSION_KEY = "language"

babel = Babel()


def offered(code: str | None) -> str | None:
    """`code` if it is one of the languages offered, else None."""
    return code if code in LANGUAGES else None


def recipient_language(user=None, client=None) -> str:
    """The language to write to `user` in: their choice, else their client's, else the default."""
    for code in (getattr(user, "language", None), getattr(client, "language", None)):
        if offered(code):
            return code
    return default_language()


def default_language() -> str:
    return offered(current_app.config["DEFAULT_LANGUAGE"]) or "en"


def select_locale() -> str:
    if has_request_context():
        if current_user and current_user.is_authenticated:
            chosen = offered(getattr(current_user, "language", None))
            if chosen:
                return chosen
            client = getattr(current_user, "client", None)
            if client is not None and offered(client.language):
                return client.language
        picked = offered(session.get(SESSION_KEY))
        if picked:
            return picked
        best = request.accept_languages.best_match(list(LANGUAGES))
        if best:
            return best
    return default_language()


def current_language() -> str:
    """The language code being rendered now ('en' outside any request)."""
    try:
        return str(get_locale() or "en")
    except RuntimeError:  # no app context
        return "en"


def in_language(code: str | None) -> AbstractContextManager:
    """Render inside it in `code` (a recipient's language): `with in_language(lang): ...`."""
    return force_locale(offered(code) or default_language())


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(app.root_path + "/../translations"))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    babel.init_app(app, locale_selector=select_locale)
    # A {% trans %} block spanning lines is one message with single spaces (as extracted).
    app.jinja_env.policies["ext.i18n.trimmed"] = True

    @app.context_processor
    def languages():
        return {"languages": LANGUAGES, "current_language": current_language()}
