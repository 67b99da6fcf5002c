"""Background jobs: RQ on Redis when REDIS_URL is set, in-process otherwise.

Outbox rows (models with an `__outbox_job__` attribute) are enqueued after the
transaction that wrote them commits, never before: a rolled-back event sends
nothing, and a job never looks for a row it cannot see yet.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from redis import Redis
from rq import Queue, Retry
from rq.serializers import JSONSerializer
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.core.types import utcnow

log = logging.getLogger(__name__)

_PENDING = "billfold_pending_jobs"


def get_redis(app: Flask | None = None) -> Redis | None:
    """The app's Redis connection, or None in the embedded (no Redis) shape."""
    app = app or current_app
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    conn = app.extensions.get("billfold_redis")
    if conn is None:
        # Short timeouts: a page must not hang because Redis is down.
        conn = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        app.extensions["billfold_redis"] = conn
    return conn


def get_queue(app: Flask | None = None) -> Queue | None:
    app = app or current_app
    conn = get_redis(app)
    if conn is None:
        return None
    return Queue(app.config["RQ_QUEUE"], connection=conn, serializer=JSONSerializer)


def job(func: Callable) -> Callable:
    """Run a job function in an app context of its own (and so its own session).

    Jobs take database ids only (the queue serializes to JSON) and load and lock
    what they need themselves.
    """

    @functools.wraps(func)
    def wrapper(*args: Any) -> Any:
        app = current_app._get_current_object() if has_app_context() else _worker_app()
        with app.app_context():
            return func(*args)

    return wrapper


@functools.cache
def _worker_app() -> Flask:
    from app import create_app

    return create_app()


def _resolve(path: str) -> Callable:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


# The setting that caps a job's attempts, where it is not OUTBOX_MAX_ATTEMPTS.
_MAX_ATTEMPTS = {"app.notify.sms.send_sms": "SMS_MAX_ATTEMPTS"}


def enqueue(path: str, *args: int | str) -> bool:
    """Run job `path` with `args`: on RQ when configured, else right here.

    Never raises: if Redis is unreachable the outbox row stays queued and
    `flask outbox flush` enqueues it later. Returns whether it was handed over.
    """
    app = current_app._get_current_object()
    queue = get_queue(app)
    if queue is None:
        try:
            _resolve(path)(*args)
        except Exception:
            log.exception("in-process job %s%r failed; it stays in the outbox", path, args)
        return True
    intervals = app.config["OUTBOX_RETRY_INTERVALS"]
    try:
        queue.enqueue(
            path,
            *args,
            retry=Retry(max=max(app.config[_MAX_ATTEMPTS.get(path, "OUTBOX_MAX_ATTEMPTS")] - 1, 1), interval=intervals),
            job_timeout=120,
        )
    except Exception:
        log.warning("could not enqueue %s%r; it stays in the outbox", path, args, exc_info=True)
        return False
    return True


def _collect_outbox_rows(session: Session, flush_context) -> None:
    """Remember new outbox rows, tagged with the savepoint (if any) that wrote them."""
    pending = session.info.setdefault(_PENDING, [])
    savepoint = session.get_nested_transaction()
    for obj in session.new:
        path = getattr(obj, "__outbox_job__", None)
        if path:
            pending.append([savepoint, path, obj.id, type(obj).__table__])


def _enqueue_after_commit(session: Session) -> None:
    savepoint = session.get_nested_transaction()
    if savepoint is not None:
        # A savepoint was released: its rows now belong to the enclosing
        # transaction and wait for the real commit.
        parent = savepoint.parent if savepoint.parent is not None and savepoint.parent.nested else None
        for entry in session.info.get(_PENDING, []):
            if entry[0] is savepoint:
                entry[0] = parent
        return
    pending = session.info.pop(_PENDING, None)
    if not pending or not has_app_context():
        return
    handed = [(table, obj_id) for _, path, obj_id, table in pending if enqueue(path, obj_id)]
    if get_queue() is not None:
        mark_handed(handed)


def mark_handed(handed: list) -> None:
    """Record when outbox rows went to RQ (`handed_at`), so the sweeper does not
    hand them again while they wait there (OUTBOX_REHAND_AFTER). Best effort, in
    a transaction of its own: the rows are committed already."""
    from app.extensions import db

    by_table = defaultdict(list)
    for table, obj_id in handed:
        by_table[table].append(obj_id)
    if not by_table:
        return
    try:
        with db.engine.begin() as conn:
            for table, ids in by_table.items():
                conn.execute(sa.update(table).where(table.c.id.in_(ids)).values(handed_at=utcnow()))
    except Exception:
        log.warning("could not record handed_at; the sweeper may hand these rows again", exc_info=True)


def _forget_pending(session: Session) -> None:
    savepoint = session.get_nested_transaction()
    if savepoint is None:
        session.info.pop(_PENDING, None)
        return
    # Only the rows written inside the rolled-back savepoint are gone.
    session.info[_PENDING] = [e for e in session.info.get(_PENDING, []) if e[0] is not savepoint]


def init_app(app: Flask) -> None:
    """Install the session hooks (once per process) and fork safety for workers."""
    if not event.contains(Session, "after_flush", _collect_outbox_rows):
        event.listen(Session, "after_flush", _collect_outbox_rows)
        event.listen(Session, "after_commit", _enqueue_after_commit)
        event.listen(Session, "after_rollback", _forget_pending)


def dispose_engine_after_fork(app: Flask) -> None:
    """RQ forks a work horse per job: it must not reuse the parent's DB sockets."""
    from app.extensions import db

    def _dispose() -> None:
        with app.app_context():
            db.engine.dispose(close=False)

    os.register_at_fork(after_in_child=_dispose)
