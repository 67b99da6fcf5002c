"""Readiness for a load balancer (`/readyz`): can this server do its work now?"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Flask

from app.core.queue import get_redis
from app.extensions import db

log = logging.getLogger(__name__)


def unready_dependencies(app: Flask) -> list[str]:
    """The services this server needs that do not answer: "database" (SELECT 1), "redis" (PING, when
    REDIS_URL is set). Empty when ready. Why one failed goes to the log, not to the caller."""
    failed = []
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception:
        log.warning("readiness: the database does not answer", exc_info=True)
        failed.append("database")
    finally:
        db.session.rollback()
    redis = get_redis(app)
    if redis is not None:
        try:
            redis.ping()
        except Exception:
            log.warning("readiness: Redis does not answer", exc_info=True)
            failed.append("redis")
    return failed
