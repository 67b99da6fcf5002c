"""Template filters: money, dates, countries, browsers. (What to offer: app.access.)"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime
from functools import lru_cache

from babel import Locale
from babel.dates import format_date, format_datetime
from flask import Flask, has_request_context
from flask_login import current_user

from app.core.dates import zone
from app.core.i18n import current_language
from app.core.money import format_money, to_decimal
from app.core.useragent import describe as describe_agent


def group_lines(lines) -> list[tuple[str | None, list]]:
    """Invoice lines in runs of the same service group, keeping their order."""
    return [(name, list(run)) for name, run in itertools.groupby(lines, key=lambda line: line.group_name)]


# strftime directives and the CLDR pattern letters that say the same in any language.
_CLDR = {"d": "dd", "b": "MMM", "B": "MMMM", "Y": "yyyy", "m": "MM", "H": "HH", "M": "mm", "S": "ss"}
_DIRECTIVE = re.compile(r"%(.)|([^%]+)")


def format_moment(moment: datetime | date, fmt: str) -> str:
    """`moment` written with a strftime-style `fmt` in the current language ("%d %B %Y"
    is "02 December 2026", "02 decembrie 2026", "02 декабря 2026"). %Z is the zone's
    abbreviation, as strftime gives it."""
    language = current_language()
    if language != "en":
        # Each language's own way of writing a whole date ("2 de diciembre de 2026", "2 декабря 2026 г.").
        for whole, width in (("%d %B %Y", "long"), ("%d %b %Y", "medium")):
            if whole in fmt:
                written = format_date(moment, width, locale=language).replace("%", "%%")
                fmt = fmt.replace(whole, written)
    pattern, literal = [], ""
    for directive, text in _DIRECTIVE.findall(fmt):
        if text or directive in "Z%":
            zone_name = moment.strftime("%Z") if isinstance(moment, datetime) else ""
            literal += text or (zone_name if directive == "Z" else "%")
            continue
        if directive not in _CLDR:
            raise ValueError(f"format_moment does not know %{directive}")
        if literal:  # quoted as one run: two quoted runs side by side would read as a quote
            pattern.append("'" + literal.replace("'", "''") + "'")
            literal = ""
        pattern.append(_CLDR[directive])
    if literal:
        pattern.append("'" + literal.replace("'", "''") + "'")
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    return format_datetime(moment, "".join(pattern), tzinfo=moment.tzinfo, locale=language)


def local_time(moment: datetime | None, fmt: str = "%d %b %Y, %H:%M", zone_name: str | None = None) -> str:
    """A stored (UTC) moment as the reader's wall-clock time, in the reader's language.

    The zone is `zone_name` (emails pass their client's), else the signed-in
    client's, else BILLING_TIMEZONE.
    """
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_moment(moment.astimezone(zone(zone_name or _reader_zone())), fmt)


def day(value: date | None, fmt: str = "%d %b %Y") -> str:
    """A calendar date (a due date, an issue date) in the reader's language."""
    return "" if value is None else _day_text(value, fmt, current_language())


# Babel formats a number or a date in tens of microseconds, and a list page formats a few
# per row: the same amounts (prices, totals) and days recur on every page, so their text is
# kept per process. Both are pure functions of their arguments (the language included).
@lru_cache(maxsize=4096)
def _day_text(value: date, fmt: str, language: str) -> str:
    return format_moment(value, fmt)


@lru_cache(maxsize=8192)
def _money_text(amount_minor: int, currency: str, language: str) -> str:
    return format_money(amount_minor, currency, language)


@lru_cache(maxsize=1024)
def _label_text(member, language: str) -> str:
    return str(member.label)


def label(member) -> str:
    """The `|label` filter: an enum member's `label` (its name in the reader's language),
    looked up once per member and language rather than once per row."""
    try:
        return _label_text(member, current_language())
    except TypeError:  # not hashable: not an enum member, nothing to keep
        return str(member.label)


def money(amount_minor: int, currency: str) -> str:
    """The `|money` filter: format_money in the language being rendered."""
    return _money_text(amount_minor, currency, current_language())


def _reader_zone() -> str | None:
    if has_request_context() and current_user.is_authenticated:
        client = getattr(current_user, "client", None)
        return client.timezone if client is not None else None
    return None


def country_name(code: str | None) -> str:
    """'RO' -> 'Romania' ('România' in Romanian); an unknown code as given."""
    if not code:
        return ""
    return Locale.parse(current_language()).territories.get(code.upper(), code)


def init_app(app: Flask) -> None:
    app.jinja_env.filters["country_name"] = country_name
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["browser"] = describe_agent
    app.jinja_env.filters["day"] = day
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["label"] = label
    app.jinja_env.filters["group_lines"] = group_lines
    app.jinja_env.filters["decimal_amount"] = lambda minor, currency: str(to_decimal(minor, currency))

    @app.context_processor
    def brand():
        return {"brand": app.config["BRAND_NAME"]}
