"""Keyset pages for the client area's lists: `?before=<cursor>` (older) and `?after=<cursor>` (newer).

A list is ordered newest first by a key of columns (an invoice's (issue_date, id), a ledger
entry's id). A page is the rows past the cursor in that order, LIMIT per_page + 1 (the extra
row says whether there is another page): no OFFSET, no count, so a deep page costs what the
first one does and the index on (client_id, key...) serves it. The cursor names the key of
the row at the page's edge; one that does not parse is a 404 (our links never make one).
An old bookmark with `?page=N` beyond the first is sent to the first page (see page_redirect).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import abort, redirect, request, url_for
from werkzeug.wrappers import Response

from app.core.ids import MAX_ID
from app.extensions import db

_INT = re.compile(r"\d{1,10}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _parse_int(text: str) -> int:
    if not _INT.fullmatch(text) or int(text) > MAX_ID:
        raise ValueError(text)
    return int(text)


def _parse_date(text: str) -> date:
    if not _DATE.fullmatch(text):
        raise ValueError(text)
    return date.fromisoformat(text)


#: How each kind of key value is read back from a cursor.
PARSERS: dict[type, Callable[[str], Any]] = {int: _parse_int, date: _parse_date}


@dataclass(frozen=True)
class Keyset:
    """The order of a list: its key columns (newest first) and the type of each value."""

    columns: tuple[sa.ColumnElement, ...]
    types: tuple[type, ...]

    def cursor_of(self, row) -> str:
        """The cursor of one row (an ORM object with the key's attributes)."""
        return ".".join(str(getattr(row, column.key)) for column in self.columns)

    def parse(self, text: str | None) -> tuple | None:
        """The key values a cursor names; None without one, a 404 for a malformed one."""
        if text is None:
            return None
        parts = text.split(".")
        if len(parts) != len(self.types):
            abort(404)
        try:
            return tuple(PARSERS[kind](part) for kind, part in zip(self.types, parts, strict=True))
        except ValueError:
            abort(404)


@dataclass(frozen=True)
class KeysetPage:
    """One page of a list: its rows, and the cursors of the pages either side (None: no such page)."""

    items: list
    newer: str | None  # ?after= for the page before (newer rows)
    older: str | None  # ?before= for the page after (older rows)


def keyset_page(query: sa.Select, keyset: Keyset, *, per_page: int, args: Mapping | None = None) -> KeysetPage:
    """The page of `query` (already scoped and filtered, not ordered) that `?before=`/`?after=`
    in `args` (the request's) asks for, newest first."""
    args = request.args if args is None else args
    before, after = keyset.parse(args.get("before")), keyset.parse(args.get("after"))
    key = sa.tuple_(*keyset.columns)
    if after is not None:
        query = query.where(key > sa.tuple_(*after)).order_by(*(c.asc() for c in keyset.columns))
    else:
        if before is not None:
            query = query.where(key < sa.tuple_(*before))
        query = query.order_by(*(c.desc() for c in keyset.columns))
    rows = list(db.session.scalars(query.limit(per_page + 1)))
    more = len(rows) > per_page
    rows = rows[:per_page]
    if after is not None:
        rows.reverse()
    if not rows:
        return KeysetPage([], None, None)
    newer = keyset.cursor_of(rows[0]) if before is not None or (after is not None and more) else None
    older = keyset.cursor_of(rows[-1]) if after is not None or more else None
    return KeysetPage(rows, newer, older)


def page_redirect(endpoint: str, keep: Sequence[str] = ()) -> Response | None:
    """A bookmark of the old numbered pages: `?page=N` beyond 1 goes to the first page
    (with the filters in `keep`); None for any other request. (app.core.ids has already
    turned a page number no list could hold into a 404.)"""
    try:
        page = int(request.args.get("page", "1"))
    except ValueError:
        return None
    if page <= 1:
        return None
    values = {name: request.args[name] for name in keep if request.args.get(name)}
    return redirect(url_for(endpoint, **values))
