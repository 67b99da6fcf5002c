"""The production shape: jobs on a real Redis, run by `python worker.py`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.core.queue import get_queue
from app.extensions import db
from app.notify.models import EmailMessage, MessageStatus
from tests.conftest import smtp_config
from tests.helpers import make_owner

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.redis


@pytest.fixture
def app_overrides(smtp_server, redis_url):
    return {**smtp_config(smtp_server), "REDIS_URL": redis_url}


def run_worker(database_url: str, redis_url: str, smtp_server, *options: str) -> None:
    """`python worker.py --burst` in its own process, as deployed."""
    env = {
        **os.environ,
        "BILLFOLD_ENV": "development",
        "SECRET_KEY": "worker-test-secret",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MAIL_BACKEND": "smtp",
        "MAIL_SERVER": smtp_server.hostname,
        "MAIL_PORT": str(smtp_server.port),
        "SERVER_NAME": "billing.example.test",
    }
    result = subprocess.run(
        [sys.executable, "worker.py", "--burst", *options],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def message_status(app) -> MessageStatus:
    with app.app_context():
        return db.session.scalars(sa.select(EmailMessage.status)).one()


@pytest.mark.parametrize("options", [("--fork",), ()], ids=["forking", "no-fork"])
def test_job_goes_to_redis_and_a_worker_sends_it(app, database_url, redis_url, smtp_server, options):
    make_owner(app, email="queued@example.com")

    with app.app_context():
        queue = get_queue()
        assert queue.count == 1
        assert queue.jobs[0].func_name == "app.notify.jobs.send_email_batch"
    assert smtp_server.handler.messages == [], "nothing is sent in the web process"
    assert message_status(app) is MessageStatus.QUEUED

    run_worker(database_url, redis_url, smtp_server, *options)

    assert [m.rcpt_tos for m in smtp_server.handler.messages] == [["queued@example.com"]]
    assert message_status(app) is MessageStatus.SENT


def test_redis_down_at_commit_then_flush_sends_once(app, database_url, redis_url, smtp_server, runner, request):
    redis = request.getfixturevalue("redis_proc")
    redis.stop()
    try:
        make_owner(app)  # the sign-up still works with Redis down
        assert message_status(app) is MessageStatus.QUEUED
        result = runner.invoke(args=["outbox", "flush"])
        assert result.exit_code == 1 and "1 queued message(s), 0 handed" in result.output
    finally:
        redis.start()

    result = runner.invoke(args=["outbox", "flush"])
    assert result.exit_code == 0 and "1 queued message(s), 1 handed" in result.output
    run_worker(database_url, redis_url, smtp_server)
    assert len(smtp_server.handler.messages) == 1
    assert message_status(app) is MessageStatus.SENT

    # The sweeper finds nothing left; a duplicate job for a sent message does nothing.
    assert "0 queued message(s)" in runner.invoke(args=["outbox", "flush"]).output
    with app.app_context():
        message_id = db.session.scalars(sa.select(EmailMessage.id)).one()
        get_queue().enqueue("app.notify.jobs.send_email", message_id)
    run_worker(database_url, redis_url, smtp_server)
    assert len(smtp_server.handler.messages) == 1


def test_the_sweeper_does_not_hand_again_what_waits_in_redis(app, database_url, redis_url, smtp_server, runner):
    make_owner(app)  # the welcome email goes to RQ at commit, as job "send_email-<id>"
    with app.app_context():
        assert get_queue().count == 1

    result = runner.invoke(args=["outbox", "flush"])
    assert "0 queued message(s)" in result.output, "a backlog in Redis is not multiplied every minute"
    with app.app_context():
        assert get_queue().count == 1

    run_worker(database_url, redis_url, smtp_server)  # the job ran (the email is sent)
    assert len(smtp_server.handler.messages) == 1
    assert "0 queued message(s)" in runner.invoke(args=["outbox", "flush"]).output


def test_a_job_lost_from_redis_is_handed_again_by_the_sweeper(app, runner):
    make_owner(app)
    with app.app_context():
        get_queue().empty()  # Redis lost it (a flushed instance, a failover)
    assert "1 queued message(s), 1 handed" in runner.invoke(args=["outbox", "flush"]).output
    with app.app_context():
        assert get_queue().count == 1
