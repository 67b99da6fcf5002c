"""Template filters: money, dates, countries, browsers. (What to offer: app.access.)"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from babel import Locale
from flask import Flask, has_request_context
from flask_login import current_user

from app.core.dates import zone
from app.core.money import format_money, to_decimal
from app.core.useragent import describe as describe_agent


def group_lines(lines) -> list[tuple[str | None, list]]:
    """Invoice lines in runs of the same service group, keeping their order."""
    return [(name, list(run)) for name, run in itertools.groupby(lines, key=lambda line: line.group_name)]


def local_time(moment: datetime | None, fmt: str = "%d %b %Y, %H:%M", zone_name: str | None = None) -> str:
    """A stored (UTC) moment as the reader's wall-clock time.

    The zone is `zone_name` (emails pass their client's), else the signed-in
    client's, else BILLING_TIMEZONE.
    """
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone(zone_name or _reader_zone())).strftime(fmt)


def _reader_zone() -> str | None:
    if has_request_context() and current_user.is_authenticated:
        client = getattr(current_user, "client", None)
        return client.timezone if client is not None else None
    return None


def country_name(code: str | None) -> str:
    """'RO' -> 'Romania' (English names, as on the forms); an unknown code as given."""
    if not code:
        return ""
    return Locale.parse("en").territories.get(code.upper(), code)


def init_app(app: Flask) -> None:
    app.jinja_env.filters["country_name"] = country_name
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["browser"] = describe_agent
    app.jinja_env.filters["money"] = lambda minor, currency: format_money(minor, currency)
    app.jinja_env.filters["group_lines"] = group_lines
    app.jinja_env.filters["decimal_amount"] = lambda minor, currency: str(to_decimal(minor, currency))

    @app.context_processor
    def brand():
        return {"brand": app.config["BRAND_NAME"]}
