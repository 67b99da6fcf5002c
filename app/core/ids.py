"""Ids and page numbers from URLs, bounded by the database's integer columns.

A number no column can hold names nothing: it is a 404, never an overflow
error from the database driver (SQLite stops at 2**63-1, PostgreSQL's
INTEGER at 2**31-1).
"""

from __future__ import annotations

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter

#: The largest value of an INTEGER column (every id column is one, see the models).
MAX_ID = 2**31 - 1

#: The largest `?page=` a list accepts: its OFFSET stays far inside a 64-bit integer.
MAX_PAGE = 2**31 - 1


class DatabaseIdConverter(IntegerConverter):
    """`<int:...>` in every route: 0 to MAX_ID, anything larger does not match (404)."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=MAX_ID if max is None else max, signed=signed)


def page_arg() -> int:
    """The list page asked for by `?page=`: 1 when missing or not a number,
    404 when beyond MAX_PAGE (db.paginate would hand it to the database)."""
    try:
        page = int(request.args.get("page", "1"))
    except ValueError:
        return 1
    if page > MAX_PAGE:
        abort(404)
    return max(page, 1)


def init_app(app: Flask) -> None:
    """Make the bounded converter the app's `int` (before any route is added)
    and check `?page=` on every request, since db.paginate reads it itself."""
    app.url_map.converters["int"] = DatabaseIdConverter

    @app.before_request
    def bounded_page() -> None:
        if "page" in request.args:
            page_arg()
