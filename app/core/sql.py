"""Small portable SQL helpers (SQLite and PostgreSQL)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement

from app.extensions import db


def _sqlite_for_update_takes_the_write_lock(conn, cursor, statement, parameters, context, executemany) -> None:
    """SELECT ... FOR UPDATE on SQLite: start the transaction with BEGIN IMMEDIATE.

    SQLite has no row locks and drops FOR UPDATE, and pysqlite begins a
    transaction only at the first write, so two requests could both read a row
    and then both write it. Taking the database's write lock before the read
    makes the second wait until the first commits, as a row lock would.

    A SAVEPOINT outside a transaction would open a deferred one (and its
    RELEASE would commit everything), so it starts with BEGIN IMMEDIATE too.
    SKIP LOCKED reads are left alone: waiting for the whole database is the
    opposite of skipping, and their jobs guard themselves (status checks).
    """
    if conn.dialect.name != "sqlite" or conn.connection.dbapi_connection.in_transaction:
        return
    if statement.startswith("SAVEPOINT"):
        cursor.execute("BEGIN IMMEDIATE")
        return
    if context is None or context.compiled is None:
        return
    for_update = getattr(context.compiled.statement, "_for_update_arg", None)
    if for_update is not None and not for_update.skip_locked:
        cursor.execute("BEGIN IMMEDIATE")


def init_app(app) -> None:
    if not event.contains(sa.engine.Engine, "before_cursor_execute", _sqlite_for_update_takes_the_write_lock):
        event.listen(sa.engine.Engine, "before_cursor_execute", _sqlite_for_update_takes_the_write_lock)


def insert_ignoring_conflicts(model, values: dict | list[dict]):
    """INSERT ... ON CONFLICT DO NOTHING for the session's dialect."""
    dialect = db.session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    return db.session.execute(insert(model).values(values).on_conflict_do_nothing())


class add_days(ColumnElement):
    """`day + days` as a SQL date; `days` is an integer expression (may be negative)."""

    inherit_cache = True
    type = sa.Date()

    def __init__(self, day, days):
        self.day = day if isinstance(day, ColumnElement) else sa.literal(day, sa.Date())
        self.days = days if isinstance(days, ColumnElement) else sa.literal(days, sa.Integer())


@compiles(add_days, "postgresql")
def _add_days_pg(element, compiler, **kw):
    day, days = compiler.process(element.day, **kw), compiler.process(element.days, **kw)
    return f"(CAST({day} AS DATE) + CAST({days} AS INTEGER))"


@compiles(add_days, "sqlite")
def _add_days_sqlite(element, compiler, **kw):
    day, days = compiler.process(element.day, **kw), compiler.process(element.days, **kw)
    return f"date({day}, ({days}) || ' days')"


def insert_rows(table: sa.Table, rows: list[dict], *returning: sa.Column) -> list[sa.Row]:
    """INSERT `rows` (dicts with the same keys: column names) into `table`; the `returning`
    columns of each inserted row, in no particular order.

    On PostgreSQL one statement whatever the number of rows, with one parameter per
    column: `INSERT ... SELECT * FROM unnest(:a, :b, ...)`, each an array of that
    column's values. Short, so the driver parses it once (a multi-row VALUES of
    thousands of parameters is parsed again on every call) and the planner sees a
    statement it has seen. Elsewhere an executemany.
    """
    if not rows:
        return []
    keys = list(rows[0])
    if db.session.get_bind().dialect.name != "postgresql":
        statement = sa.insert(table)
        if returning:
            return list(db.session.execute(statement.returning(*returning), rows).all())
        db.session.execute(statement, rows)
        return []
    arrays = [
        sa.func.unnest(sa.bindparam(key, [row[key] for row in rows], type_=postgresql.ARRAY(table.c[key].type)))
        for key in keys
    ]
    statement = sa.insert(table).from_select(keys, sa.select(*arrays))
    if returning:
        return list(db.session.execute(statement.returning(*returning)).all())
    db.session.execute(statement)
    return []
