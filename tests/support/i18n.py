"""Expected texts of the translated pages, looked up from the catalogs (never hard-coded)."""

from __future__ import annotations

import flask_babel


def translated(app, language: str, *messages: str) -> list[str]:
    """The catalog's `messages` in `language`; each must differ from the English."""
    with app.test_request_context(), flask_babel.force_locale(language):
        found = [flask_babel.gettext(m) for m in messages]
    untranslated = [m for m, t in zip(messages, found, strict=True) if m == t]
    assert not untranslated, f"not translated into {language} yet: {untranslated}"
    return found
