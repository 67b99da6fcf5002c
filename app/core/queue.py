"""Background jobs: RQ on Redis when REDIS_URL is set, in-process otherwise.

Outbox rows (models with an `__outbox_job__` attribute) are enqueued after the
transaction that wrote them commits, never before: a rolled-back event sends
nothing, and a job never looks for a row it cannot see yet.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import logging
import os
import re
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, has_app_context
from redis import Redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db

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
    # Built by name, as `flask --app app` does: core must not import the package that
    # wires every domain together (the import contract, README "Architecture").
    return importlib.import_module("app").create_app()


def _resolve(path: str) -> Callable:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


#: How long an RQ job may run; a job's claim on its row (a lease) outlives it.
JOB_TIMEOUT = 120

#: RQ statuses of a job that will still run (or is running).
_PENDING_STATUSES = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


_PLAIN_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")


def job_id(path: str, *args: int | str) -> str:
    """One RQ job id per job and arguments ("send_email-12"), so the sweeper can see it waiting.

    Arguments that are not plain ids (an email address, a signed token) are
    replaced by their digest: RQ allows only letters, digits, - and _ in an id,
    and an address has no place in a Redis key name.
    """
    name = path.rpartition(".")[2]
    plain = "-".join([name, *map(str, args)])
    if _PLAIN_ID.fullmatch(plain):
        return plain
    return f"{name}-{hashlib.sha256(repr(args).encode()).hexdigest()[:32]}"


def enqueue(path: str, *args: int | str) -> bool:
    """Run job `path` with `args`: on RQ when configured, else right here.

    No RQ retries: a failed attempt records when to try again on its row, and
    the outbox sweeper (every minute) hands it over when that time comes.
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
    try:
        queue.enqueue(path, *args, job_id=job_id(path, *args), job_timeout=JOB_TIMEOUT)
    except Exception:
        log.warning("could not enqueue %s%r; it stays in the outbox", path, args, exc_info=True)
        return False
    return True


def waiting_in_queue(path: str, *args: int | str) -> bool:
    """Whether RQ already holds this job, still to run (a backlog): handing it again would only duplicate it."""
    queue = get_queue()
    if queue is None:
        return False
    try:
        job = Job.fetch(job_id(path, *args), connection=queue.connection, serializer=JSONSerializer)
        return job.get_status(refresh=False) in _PENDING_STATUSES
    except NoSuchJobError:
        return False
    except Exception:
        log.warning("could not ask Redis about %s%r", path, args, exc_info=True)
        return False


def _collect_outbox_rows(session: Session, flush_context) -> None:
    """Remember new outbox rows, tagged with the savepoint (if any) that wrote them."""
    pending = session.info.setdefault(_PENDING, [])
    savepoint = session.get_nested_transaction()
    for obj in session.new:
        path = getattr(obj, "__outbox_job__", None)
        if path:
            pending.append([savepoint, path, obj.id])


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
    for _, path, obj_id in pending:
        enqueue(path, obj_id)


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

    def _dispose() -> None:
        with app.app_context():
            db.engine.dispose(close=False)

    os.register_at_fork(after_in_child=_dispose)
