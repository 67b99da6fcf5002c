"""The translation catalogs: every message in the code translated in every language, with
the same placeholders (`make messages` extracts; scripts/i18n.py check is this test)."""

from __future__ import annotations

import runpy
from pathlib import Path

from babel.messages.catalog import Message

i18n = runpy.run_path(str(Path(__file__).resolve().parents[2] / "scripts" / "i18n.py"))


def test_every_language_has_every_message_translated_with_its_placeholders():
    problems = i18n["problems"]()
    assert problems == [], f"{len(problems)} catalog problems, first: {problems[:20]}"


def test_the_check_finds_a_missing_an_empty_and_a_changed_placeholder():
    compare = i18n["compare"]
    message = Message("Proforma %(number)s is due on %(due)s.")
    assert compare(message, None, "ro", 3) == [
        "ro: missing 'Proforma %(number)s is due on %(due)s.' (run make messages, then translate it)"
    ]
    assert compare(message, Message(message.id, ""), "ro", 3)[0].startswith("ro: not translated")
    fuzzy = Message(message.id, "Proforma %(number)s scade pe %(due)s.", flags=["fuzzy"])
    assert compare(message, fuzzy, "ro", 3)[0].startswith("ro: not translated")
    renamed = Message(message.id, "Proforma %(numar)s scade pe %(due)s.")
    assert "placeholders differ" in compare(message, renamed, "ro", 3)[0]
    dropped = Message(message.id, "Factura proformă scade pe %(due)s.")
    assert "placeholders differ" in compare(message, dropped, "ro", 3)[0]
    good = Message(message.id, "Factura proformă %(number)s este scadentă pe %(due)s.")
    assert compare(message, good, "ro", 3) == []


def test_plurals_need_every_form_and_may_leave_out_the_count():
    compare = i18n["compare"]
    message = Message(("%(num)d service", "%(num)d services"))
    assert (
        "needs 3 plural forms"
        in compare(message, Message(message.id, ("%(num)d услуга", "%(num)d услуги")), "ru", 3)[0]
    )
    forms = ("одна услуга", "%(num)d услуги", "%(num)d услуг")
    assert compare(message, Message(message.id, forms), "ru", 3) == []
    added = ("%(num)d услуга %(x)s", "%(num)d услуги", "%(num)d услуг")
    assert "placeholders differ" in compare(message, Message(message.id, added), "ru", 3)[0]
