"""Keyset pages for the admin's lists: an opaque cursor (`?after=`) naming the last row shown.

A cursor is the sort key of the last row of a page, as URL-safe base64 of a JSON list
(`[name, id]`, `[id]`); it is checked against the types the list's order expects, and
anything else is a 400 (cursors are made by us: a bad one is a hand-edited URL). The
next page is the rows beyond that key in the list's order: a row-value comparison
(`(name, id) > (:name, :id)`) that PostgreSQL answers from a composite index, and no
OFFSET, so a deep page costs what the first one does.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import abort

from app.core.i18n import _
from app.extensions import db

#: Rows on a page of the staff list and of the approvals (tests make it small).
STAFF_PAGE = 50


@dataclass(frozen=True)
class KeysetPage:
    """One page of a list: its rows and the cursor of the next page (None on the last)."""

    rows: list
    after: str | None


def encode_cursor(values: Sequence[Any]) -> str:
    """The opaque form of a row's sort key."""
    raw = json.dumps(list(values), separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str, types: Sequence[type], *, name: str = "after") -> tuple:
    """The sort key a cursor (the query parameter `name`) names, each value of the type the
    list's order expects. Aborts 400 for anything that is not a cursor of this list."""
    refused = _("%(name)s is not a cursor of this list", name=name)
    try:
        if len(text) > 800:
            raise ValueError(text)
        values = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        abort(400, description=refused)
    if not isinstance(values, list) or len(values) != len(types):
        abort(400, description=refused)
    for value, kind in zip(values, types, strict=True):
        # bool is an int to Python, never a sort key here; ids stay within a bigint.
        if type(value) is not kind or (kind is int and abs(value) >= 2**63):
            abort(400, description=refused)
    return tuple(values)


def keyset_page(
    query: sa.Select,
    order: Sequence[sa.ColumnElement],
    *,
    after: str = "",
    name: str = "after",
    descending: bool = False,
    size: int,
    key_of: Callable[[Any], Sequence[Any]],
    types: Sequence[type],
    scalars: bool = True,
) -> KeysetPage:
    """The `size` rows of `query` after the cursor `after` in the order of the columns
    `order` (all ascending or all descending; the last one unique, the id), and the
    cursor of the next page. `key_of(row)` is a row's sort key, of `types`; `name` is the
    query parameter the cursor came in (for the 400's message)."""
    if after:
        key = decode_cursor(after, types, name=name)
        columns, values = (order[0], key[0]) if len(order) == 1 else (sa.tuple_(*order), sa.tuple_(*key))
        query = query.where(columns < values if descending else columns > values)
    query = query.order_by(*(column.desc() if descending else column.asc() for column in order)).limit(size + 1)
    result = db.session.execute(query).unique()
    rows = list(result.scalars() if scalars else result.all())
    more = len(rows) > size
    rows = rows[:size]
    return KeysetPage(rows, encode_cursor(key_of(rows[-1])) if more else None)
