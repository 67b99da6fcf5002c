"""The translation catalogs: extract, update, fill, compile and check.

    python scripts/i18n.py messages      # extract into translations/messages.pot, update every .po
    python scripts/i18n.py compile       # .po -> .mo (make run and make test do it)
    python scripts/i18n.py check         # every language complete, same placeholders (make test does it)
    python scripts/i18n.py fill [FILE...]  # take translations from JSON {msgid: {lang: text | [forms]}}
                                           # (default: translations/work/*.json)
    python scripts/i18n.py todo PREFIX...  # marked messages under PREFIX not translated yet

English is the source language: its catalog is filled with the messages themselves.
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
from io import BytesIO
from pathlib import Path

from babel.messages import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
DIRECTORY = ROOT / "translations"
POT = DIRECTORY / "messages.pot"
LANGUAGES = ("en", "ro", "es", "ru", "hi")
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "_l": None,
    "lazy_gettext": None,
    "lazy_ngettext": (1, 2),
}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{(\w*)\}")


def po_path(language: str) -> Path:
    return DIRECTORY / language / "LC_MESSAGES" / "messages.po"


def extract() -> Catalog:
    """Every marked message in app/ and templates/ (as `pybabel extract -F babel.cfg`)."""
    catalog = Catalog(project="Billfold", charset="utf-8")
    method_map = [("app/**.py", "python"), ("templates/**.html", "jinja2"), ("templates/**.txt", "jinja2")]
    options = {"templates/**.html": {"trimmed": "true"}, "templates/**.txt": {"trimmed": "true"}}
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT),
        method_map,
        options,
        keywords=KEYWORDS,
        comment_tags=("Translators:",),
        strip_comment_tags=True,
        # Babel's default skips folders starting with "_": templates/_macros holds messages too.
        directory_filter=lambda path: not os.path.basename(path).startswith((".", "__")),
    ):
        if filename.startswith(("scripts", "tests")):
            continue
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def read(path: Path, language: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


def write(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = BytesIO()
    write_po(buffer, catalog, width=0, sort_output=False, include_previous=False)
    path.write_bytes(buffer.getvalue())


def messages() -> None:
    """Extract, then bring every language's catalog up to date (new messages empty)."""
    template = extract()
    write(template, POT)
    for language in LANGUAGES:
        path = po_path(language)
        if path.exists():
            catalog = read(path, language)
        else:
            catalog = Catalog(locale=language, project="Billfold", charset="utf-8")
        # A copy each: update() puts the template's own Message objects into the catalog.
        catalog.update(copy.deepcopy(template), no_fuzzy_matching=True)
        catalog.obsolete.clear()
        if language == "en":
            for message in catalog:
                if message.id:
                    message.string = message.id
                    message.flags.discard("fuzzy")
        write(catalog, path)


def fill(files: list[str]) -> None:
    """Take translations from JSON files ({msgid: {language: text, or [forms] for a plural}});
    a plural's msgid is its singular."""
    wanted: dict[str, dict] = {}
    for name in files:
        wanted.update(json.loads(Path(name).read_text(encoding="utf-8")))
    for language in LANGUAGES[1:]:
        path = po_path(language)
        catalog = read(path, language)
        for message in catalog:
            key = message.id[0] if isinstance(message.id, tuple) else message.id
            text = wanted.get(key, {}).get(language)
            if key and text and not _translated(message):
                message.string = tuple(text) if isinstance(message.id, tuple) else text
                message.flags.discard("fuzzy")
        write(catalog, path)


def _translated(message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return all(strings) and "fuzzy" not in message.flags


def compile_all() -> None:
    for language in LANGUAGES:
        path = po_path(language)
        if not path.exists():
            continue
        target = path.with_suffix(".mo")
        if target.exists() and target.stat().st_mtime >= path.stat().st_mtime:
            continue
        catalog = read(path, language)
        with target.open("wb") as handle:
            write_mo(handle, catalog, use_fuzzy=False)


def placeholders(text: str) -> set[str]:
    return {a or b for a, b in PLACEHOLDER.findall(text or "")}


def problems() -> list[str]:
    """What is wrong with the catalogs against the messages in the code (empty: all good)."""
    template = extract()
    found = []
    for language in LANGUAGES:
        path = po_path(language)
        if not path.exists():
            found.append(f"{language}: no catalog at {path.relative_to(ROOT)} (run make messages)")
            continue
        catalog = read(path, language)
        for message in template:
            if message.id:
                found += compare(message, catalog.get(message.id), language, catalog.num_plurals)
    return found


def compare(message, have, language: str, num_plurals: int) -> list[str]:
    """What is wrong with `have` (a catalog's entry, or None) as the translation of `message`."""
    label = message.id[0] if isinstance(message.id, tuple) else message.id
    if have is None:
        return [f"{language}: missing {label!r} (run make messages, then translate it)"]
    if not _translated(have):
        return [f"{language}: not translated: {label!r}"]
    plural = isinstance(message.id, tuple)
    ids = message.id if plural else (message.id,)
    strings = have.string if isinstance(have.string, tuple) else (have.string,)
    found = []
    if plural and len(strings) != num_plurals:
        found.append(f"{language}: {label!r} needs {num_plurals} plural forms")
    expected = set().union(*(placeholders(i) for i in ids))
    for string in strings:
        got = placeholders(string)
        # A plural form may leave out the count (Russian "одна"), never add or rename one.
        if got - expected or (got != expected and not plural):
            found.append(f"{language}: placeholders differ in {label!r}: {sorted(got)} != {sorted(expected)}")
    return found


def todo(prefixes: list[str]) -> dict:
    """The messages marked in files under `prefixes` that no translations/work/*.json has yet:
    {msgid: {"plural": str | None, "where": [file:line, ...]}} (a helper's list to translate)."""
    done: dict = {}
    for name in sorted((DIRECTORY / "work").glob("*.json")):
        done.update(json.loads(name.read_text(encoding="utf-8")))
    if po_path("ro").exists():  # what the catalogs already translate is done too
        for message in read(po_path("ro"), "ro"):
            if message.id and _translated(message):
                done[message.id[0] if isinstance(message.id, tuple) else message.id] = True
    found: dict = {}
    for message in extract():
        if not message.id:
            continue
        places = [f"{f}:{n}" for f, n in message.locations if f.startswith(tuple(prefixes))]
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        if places and key not in done:
            plural = message.id[1] if isinstance(message.id, tuple) else None
            found[key] = {"plural": plural, "where": places}
    return found


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "messages":
        messages()
    elif command == "compile":
        compile_all()
    elif command == "fill":
        fill(argv[1:] or [str(p) for p in sorted((DIRECTORY / "work").glob("*.json"))])
    elif command == "todo":
        print(json.dumps(todo(argv[1:]), ensure_ascii=False, indent=1))
    elif command == "check":
        found = problems()
        for line in found[:200]:
            print(line)
        if found:
            print(f"{len(found)} problems in the catalogs")
            return 1
        print("The catalogs are complete.")
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
