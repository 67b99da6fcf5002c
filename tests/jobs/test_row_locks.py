"""Row locks hold on both databases: SQLite (no row locks) takes its write lock instead."""

from __future__ import annotations

import sqlite3
import threading
import time

import pyotp
import pytest
import sqlalchemy as sa

from app.clients.models import User
from app.core.errors import ValidationError
from app.extensions import db
from app.security.models import RecoveryCode
from app.security.services import seal_totp_secret, verify_second_factor
from tests.helpers import make_owner
from tests.support.concurrency import run_together


def test_one_totp_code_signs_in_once_however_many_requests_race(app):
    owner = make_owner(app)
    secret = pyotp.random_base32()
    with app.app_context():
        user = db.session.get(User, owner.user_id)
        seal_totp_secret(user, secret)
        user.totp_enabled_at = sa.func.now()
        db.session.commit()
    code = pyotp.TOTP(secret).at(time.time() + 30)  # the next step: valid now, used by no one yet

    errors = run_together(app, [lambda: verify_second_factor(owner.user_id, code) for _ in range(8)])

    assert len(errors) == 7 and all(isinstance(e, ValidationError) for e in errors)


def test_one_recovery_code_is_spent_once_however_many_requests_race(app):
    from app.security.services import new_recovery_codes

    owner = make_owner(app)
    with app.app_context():
        user = db.session.get(User, owner.user_id)
        seal_totp_secret(user, pyotp.random_base32())
        user.totp_enabled_at = sa.func.now()
        code = new_recovery_codes(user)[0]
        db.session.commit()

    errors = run_together(app, [lambda: verify_second_factor(owner.user_id, code) for _ in range(8)])

    assert len(errors) == 7 and all(isinstance(e, ValidationError) for e in errors)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(RecoveryCode.used_at.is_not(None))) == 1


# --- SQLite specifics ---------------------------------------------------------------------

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def another_writer_is_blocked(path: str) -> bool:
    """Whether a second connection (another request) cannot take the write lock now."""
    other = sqlite3.connect(path, timeout=0.2, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        other.close()


@sqlite_only
def test_a_locked_read_holds_the_write_lock_even_inside_a_first_savepoint(app):
    from app.clients.services import lock_client

    owner = make_owner(app)
    with app.app_context():
        path = db.engine.url.database
        assert not another_writer_is_blocked(path)
        lock_client(owner.client_id)
        assert another_writer_is_blocked(path)
        db.session.rollback()
        with db.session.begin_nested():  # a SAVEPOINT would open a deferred transaction
            lock_client(owner.client_id)
            assert another_writer_is_blocked(path)
        db.session.rollback()
        assert not another_writer_is_blocked(path)


@sqlite_only
def test_sending_an_email_does_not_hold_the_database_for_the_smtp_round_trip(app, monkeypatch):
    from app.notify.jobs import send_email
    from app.notify.models import EmailMessage, MessageStatus

    make_owner(app)
    with app.app_context():
        message = db.session.scalar(sa.select(EmailMessage))
        message.status = MessageStatus.QUEUED  # the welcome email, as if the first try had failed
        db.session.commit()
        message_id, path = message.id, db.engine.url.database
    inside, release, blocked = threading.Event(), threading.Event(), []

    def slow_smtp(message):
        inside.set()
        release.wait(10)

    monkeypatch.setattr("app.notify.jobs.deliver", slow_smtp)
    worker = threading.Thread(target=lambda: run_in_app(app, lambda: send_email(message_id)))
    worker.start()
    try:
        assert inside.wait(10)
        blocked.append(another_writer_is_blocked(path))
    finally:
        release.set()
        worker.join(10)
    assert blocked == [False]


def run_in_app(app, job):
    with app.app_context():
        job()
