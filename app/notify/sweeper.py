"""The outbox sweeper of the embedded shape: with no Redis there is no `rq cron`, so the
serving process runs the same sweep as `flask outbox flush` every minute in a thread.

It starts on the first request, so only a process that serves starts it: not the
Flask reloader's watching parent, not `flask db upgrade` or another CLI command.
Never under testing, never when REDIS_URL is set (`rq cron app/cron.py` sweeps then).
OUTBOX_SWEEP_SECONDS sets the interval; 0 turns it off.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask

from app.extensions import db
from app.notify.outbox import flush_outbox

log = logging.getLogger(__name__)

_KEY = "billfold_outbox_sweeper"
_lock = threading.Lock()


def wants_embedded_sweeper(app: Flask) -> bool:
    """Whether this app is the embedded shape that must sweep its own outbox."""
    config = app.config
    return not app.testing and not config.get("REDIS_URL") and config.get("OUTBOX_SWEEP_SECONDS", 0) > 0


def sweep_once(app: Flask) -> tuple[int, int]:
    """One sweep, as `flask outbox flush` does it, in an app context of its own."""

    with app.app_context():
        try:
            return flush_outbox()
        finally:
            db.session.remove()


def _run(app: Flask, stop: threading.Event, interval: float) -> None:
    while not stop.is_set():
        try:
            sweep_once(app)
        except Exception:  # the next sweep tries again; the thread must not die
            log.exception("outbox sweep failed")
        stop.wait(interval)


def start_embedded_sweeper(app: Flask) -> threading.Thread | None:
    """Start the sweeper thread once per app (thread-safe); None when this shape needs none."""
    if not wants_embedded_sweeper(app):
        return None
    with _lock:
        running = app.extensions.get(_KEY)
        if running is not None:
            return running[0]
        stop = threading.Event()
        thread = threading.Thread(
            target=_run, args=(app, stop, float(app.config["OUTBOX_SWEEP_SECONDS"])), name="outbox-sweeper", daemon=True
        )
        app.extensions[_KEY] = (thread, stop)
        thread.start()
        log.info("embedded outbox sweeper started (every %s s)", app.config["OUTBOX_SWEEP_SECONDS"])
        return thread


def stop_embedded_sweeper(app: Flask) -> None:
    running = app.extensions.pop(_KEY, None)
    if running is not None:
        running[1].set()
        running[0].join(timeout=10)


def init_app(app: Flask) -> None:
    if not wants_embedded_sweeper(app):
        return

    @app.before_request
    def _start_sweeper() -> None:
        if _KEY not in app.extensions:
            start_embedded_sweeper(app)
