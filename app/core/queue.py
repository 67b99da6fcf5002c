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


#: Kinds of job with a queue each (config key), in the order a worker serves them: the sweeper and
#: the billing run are not held up by a backlog of ten thousand renewal emails.
QUEUE_KINDS = {"default": "RQ_QUEUE", "billing": "RQ_QUEUE_BILLING", "sms": "RQ_QUEUE_SMS", "mail": "RQ_QUEUE_MAIL"}


def queue_name(kind: str = "default", app: Flask | None = None) -> str:
    """The RQ queue for jobs of `kind` (RQ_QUEUE_<KIND>, which defaults to RQ_QUEUE)."""
    config = (app or current_app).config
    return config.get(QUEUE_KINDS[kind]) or config["RQ_QUEUE"]


def queue_names(app: Flask | None = None) -> list[str]:
    """Every queue Billfold's jobs go to, each once, in the order a worker serves them."""
    return list(dict.fromkeys(queue_name(kind, app) for kind in QUEUE_KINDS))


def get_queue(app: Flask | None = None, kind: str = "default") -> Queue | None:
    """The RQ queue for jobs of `kind`, or None in the embedded (no Redis) shape."""
    app = app or current_app
    conn = get_redis(app)
    if conn is None:
        return None
    return Queue(queue_name(kind, app), connection=conn, serializer=JSONSerializer)


def job(func: Callable | None = None, *, queue: str = "default", batch: str | None = None) -> Callable:
    """Run a job function in an app context of its own (and so its own session).

    Jobs take database ids only (the queue serializes to JSON) and load and lock
    what they need themselves. `queue` names the kind of job (QUEUE_KINDS) whose
    queue it goes to. `batch`, on a job for one outbox row, names a job taking a
    range of row ids (first, last): rows committed together are handed to it in
    ranges of OUTBOX_BATCH instead of one job per row.
    """
    if queue not in QUEUE_KINDS:
        raise ValueError(f"unknown queue kind {queue!r}")

    def decorate(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args: Any) -> Any:
            app = current_app._get_current_object() if has_app_context() else _worker_app()
            with app.app_context():
                return func(*args)

        wrapper.queue_kind = queue
        wrapper.batch_job = batch
        return wrapper

    return decorate(func) if func is not None else decorate


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
_PENDING_STATUSES = {s.value for s in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED)}
_NOT_STARTED = {JobStatus.QUEUED.value}


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


def _kind(path: str) -> str:
    try:
        return getattr(_resolve(path), "queue_kind", "default")
    except (ImportError, AttributeError, ValueError):
        return "default"  # RQ reports the bad path when the job runs


def enqueue(path: str, *args: int | str) -> bool:
    """Run job `path` with `args`: on its RQ queue when configured, else right here.

    No RQ retries: a failed attempt records when to try again on its row, and
    the outbox sweeper (every minute) hands it over when that time comes.
    Never raises: if Redis is unreachable the outbox row stays queued and
    `flask outbox flush` enqueues it later. Returns whether it was handed over.
    """
    app = current_app._get_current_object()
    queue = get_queue(app, _kind(path))
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


def enqueue_many(calls: list[tuple[str, tuple]]) -> int:
    """Enqueue each (path, args), as `enqueue` does, in one Redis round trip. Returns how many were handed over.

    Never raises; with Redis unreachable nothing is handed over (the rows wait for the sweeper).
    """
    calls = list(dict.fromkeys((path, tuple(args)) for path, args in calls))  # one job per id
    app = current_app._get_current_object()
    conn = get_redis(app)
    if conn is None:
        return sum(1 for path, args in calls if enqueue(path, *args))
    by_queue: dict[str, list] = {}
    for path, args in calls:
        data = Queue.prepare_data(path, args, job_id=job_id(path, *args), timeout=JOB_TIMEOUT)
        by_queue.setdefault(queue_name(_kind(path), app), []).append(data)
    try:
        with conn.pipeline() as pipe:
            for name, datas in by_queue.items():
                Queue(name, connection=conn, serializer=JSONSerializer).enqueue_many(datas, pipeline=pipe)
            pipe.execute()
    except Exception:
        log.warning("could not enqueue %s job(s); they stay in the outbox", len(calls), exc_info=True)
        return 0
    return len(calls)


def batch_calls(path: str, ids: list[int]) -> dict[tuple[str, tuple], list[int]]:
    """The jobs that send outbox rows `ids` of job `path`, each with the rows it sends: one per
    row, or one per range of OUTBOX_BATCH ids when the job names a `batch` job. A range's bounds
    depend only on the ids, so the sweeper and a commit name the same job (and the sweeper sees
    it waiting)."""
    batch = getattr(_resolve(path), "batch_job", None)
    calls: dict[tuple[str, tuple], list[int]] = {}
    if batch is None:
        for i in ids:
            calls.setdefault((path, (i,)), []).append(i)
        return calls
    size = max(1, current_app.config.get("OUTBOX_BATCH", 100))
    for i in ids:
        start = i // size * size
        calls.setdefault((batch, (start, start + size - 1)), []).append(i)
    return calls


def waiting_in_queue(path: str, *args: int | str) -> bool:
    """Whether RQ already holds this job, still to run (a backlog): handing it again would only duplicate it."""
    return bool(_waiting([(path, args)], _PENDING_STATUSES)[0])


def _waiting(calls: list[tuple[str, tuple]], statuses: set) -> list[bool]:
    """For each (path, args): whether RQ holds that job in one of `statuses` (one round trip)."""
    conn = get_redis()
    if conn is None or not calls:
        return [False] * len(calls)
    try:
        with conn.pipeline(transaction=False) as pipe:
            for path, args in calls:
                pipe.hget(Job.key_for(job_id(path, *args)), "status")
            found = pipe.execute()
    except Exception:
        log.warning("could not ask Redis about %s job(s)", len(calls), exc_info=True)
        return [False] * len(calls)
    return [status is not None and status.decode() in statuses for status in found]


def not_waiting(calls: list[tuple[str, tuple]]) -> list[tuple[str, tuple]]:
    """The calls whose job RQ does not already hold, still to run or running (the sweeper's filter)."""
    return [call for call, held in zip(calls, _waiting(calls, _PENDING_STATUSES), strict=True) if not held]


def _not_yet_started(calls: list[tuple[str, tuple]]) -> list[tuple[str, tuple]]:
    """The calls whose job is not queued and unstarted: a queued job claims rows when it starts,
    so it sees what was committed before; a running one may have claimed already."""
    return [call for call, held in zip(calls, _waiting(calls, _NOT_STARTED), strict=True) if not held]


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
    by_path: dict[str, list[int]] = {}
    for _, path, obj_id in pending:
        by_path.setdefault(path, []).append(obj_id)
    single, batches = [], []
    for path, ids in by_path.items():
        (batches if getattr(_resolve(path), "batch_job", None) else single).extend(batch_calls(path, ids).keys())
    if get_redis() is None:
        for path, args in single + batches:  # in-process, one after the other
            enqueue(path, *args)
        return
    enqueue_many(single + _not_yet_started(batches))


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
