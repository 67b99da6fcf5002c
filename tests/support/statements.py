"""Counting the SQL statements a request or a block of code sends to the database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from app.extensions import db


@contextmanager
def recorded_statements(app) -> Iterator[list[str]]:
    """The statements `app`'s engine executes inside the block, in order (SAVEPOINTs and
    the like included: a statement the database runs is a round trip)."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def statements_for_get(app, client, path: str) -> list[str]:
    """The statements one GET of `path` costs (the test client carries the session);
    fails unless the page answered 200."""
    with recorded_statements(app) as statements:
        response = client.get(path)
    assert response.status_code == 200, f"GET {path}: {response.status_code}"
    return statements
