"""`make run` (no Redis, no `rq cron`) sweeps its outbox too: the serving process runs
the `flask outbox flush` sweep in a thread, so an SMS held for quiet hours goes out."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.core.types import utcnow
from app.extensions import db
from app.notify.models import SmsMessage, SmsStatus
from app.notify.sweeper import stop_embedded_sweeper, wants_embedded_sweeper
from tests.conftest import make_app
from tests.helpers import make_owner

PHONE = "+40722123456"


def sweepers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "outbox-sweeper" and t.is_alive()]


@pytest.fixture
def embedded(database_url):
    """The app as `make run` builds it: not testing, no REDIS_URL (a short sweep interval)."""
    app = make_app(database_url, TESTING=False, OUTBOX_SWEEP_SECONDS=0.05)
    yield app
    stop_embedded_sweeper(app)
    with app.app_context():
        db.engine.dispose()


def held_sms(app) -> int:
    """An SMS held by quiet hours whose morning has now come: only a sweep sends it."""
    account = make_owner(app, phone=PHONE, sms_opt_in=True)
    with app.app_context():
        message = SmsMessage(
            client_id=account.client_id,
            user_id=account.user_id,
            event_key="renewal:PF-2026-000001",
            phone=PHONE,
            sender="Billfold",
            body="Held for the morning",
            not_before=utcnow() + timedelta(hours=8),
        )
        db.session.add(message)
        db.session.commit()  # the in-process job finds it "waiting"
        db.session.execute(sa.update(SmsMessage).values(not_before=utcnow() - timedelta(seconds=1)))
        db.session.commit()  # morning: due, but nothing hands it to a job again
        return message.id


def sms_status(app, message_id: int) -> SmsStatus:
    with app.app_context():
        return db.session.get(SmsMessage, message_id).status


def test_the_serving_embedded_app_starts_the_sweeper_which_sends_held_sms(embedded):
    assert wants_embedded_sweeper(embedded)
    message_id = held_sms(embedded)
    time.sleep(0.2)
    assert sms_status(embedded, message_id) is SmsStatus.QUEUED  # no request served yet: no sweeper
    assert sweepers() == []

    embedded.test_client().get("/healthz")  # the first request starts it...
    embedded.test_client().get("/healthz")  # ...once
    assert len(sweepers()) == 1

    deadline = time.monotonic() + 10
    while sms_status(embedded, message_id) is not SmsStatus.SENT and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sms_status(embedded, message_id) is SmsStatus.SENT

    stop_embedded_sweeper(embedded)
    assert sweepers() == []


def test_testing_and_the_redis_shape_start_no_sweeper(app, database_url):
    app.test_client().get("/healthz")
    assert not wants_embedded_sweeper(app) and sweepers() == []

    with_redis = make_app(database_url, TESTING=False, REDIS_URL="redis://127.0.0.1:1/0", OUTBOX_SWEEP_SECONDS=0.05)
    with_redis.test_client().get("/healthz")
    assert not wants_embedded_sweeper(with_redis) and sweepers() == []
    with with_redis.app_context():
        db.engine.dispose()
