"""One-at-a-time locks for scheduled work (the billing run, the outbox sweeper) across hosts.

`rq cron` has no leader: with a scheduler on every host, each scheduled job is
enqueued once per host and the copies run at the same moment on different
workers. A job that takes `run_lock(name)` first does its work only when no
other process holds that name; the others skip and say so.

On PostgreSQL the lock is a transaction-level advisory lock
(`pg_try_advisory_xact_lock`) taken on a connection of its own, kept in an open
transaction for the whole block and rolled back at its end. Transaction-level,
not session-level: behind PgBouncer in transaction mode a session-level lock
would stay on a server connection that other clients get next, while an open
transaction keeps its server connection to itself until it ends. The work
itself runs in the app's session and may commit as often as it likes; the lock
holds until the block ends (or the process dies: PostgreSQL then ends its
transaction and the lock with it, so a crashed run never blocks the next).

On SQLite (the embedded shape: one process) a process-local lock does.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from app.extensions import db

log = logging.getLogger(__name__)

_local_locks: dict[str, threading.Lock] = {}
_local_guard = threading.Lock()


def lock_key(name: str) -> int:
    """The advisory lock's bigint for `name` (stable across processes and Python versions)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


@contextmanager
def run_lock(name: str) -> Iterator[bool]:
    """Hold the lock `name` for the block if nobody else does; yields whether we got it.

    Never waits: a caller that did not get it skips its work (another process is
    doing it). Needs an app context.
    """
    engine = db.engine
    if engine.dialect.name != "postgresql":
        with _local_lock(name) as got:
            yield got
        return
    with engine.connect() as conn:
        got = bool(conn.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(lock_key(name)))))
        if not got:
            log.info("%s: another process holds the lock, skipping", name)
        try:
            yield got
        finally:
            conn.rollback()  # ends the transaction, and the lock with it


@contextmanager
def _local_lock(name: str) -> Iterator[bool]:
    with _local_guard:
        lock = _local_locks.setdefault(name, threading.Lock())
    got = lock.acquire(blocking=False)
    if not got:
        log.info("%s: another thread holds the lock, skipping", name)
    try:
        yield got
    finally:
        if got:
            lock.release()
