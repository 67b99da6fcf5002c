"""Row locks hold on both databases: SQLite (no row locks) takes its write lock instead."""

from __future__ import annotations

import time

import pyotp
import sqlalchemy as sa

from app.account.models import RecoveryCode, User
from app.account.security import verify_second_factor
from app.core.secretbox import seal
from app.errors import ValidationError
from app.extensions import db
from tests.helpers import make_owner
from tests.jobs.test_wallet_concurrency import run_together


def test_one_totp_code_signs_in_once_however_many_requests_race(app):
    owner = make_owner(app)
    secret = pyotp.random_base32()
    with app.app_context():
        user = db.session.get(User, owner.user_id)
        user.totp_secret, user.totp_enabled_at = seal(secret, "totp"), sa.func.now()
        db.session.commit()
    code = pyotp.TOTP(secret).at(time.time() + 30)  # the next step: valid now, used by no one yet

    errors = run_together(app, [lambda: verify_second_factor(owner.user_id, code) for _ in range(8)])

    assert len(errors) == 7 and all(isinstance(e, ValidationError) for e in errors)


def test_one_recovery_code_is_spent_once_however_many_requests_race(app):
    from app.account.security import new_recovery_codes

    owner = make_owner(app)
    with app.app_context():
        user = db.session.get(User, owner.user_id)
        user.totp_secret, user.totp_enabled_at = seal(pyotp.random_base32(), "totp"), sa.func.now()
        code = new_recovery_codes(user)[0]
        db.session.commit()

    errors = run_together(app, [lambda: verify_second_factor(owner.user_id, code) for _ in range(8)])

    assert len(errors) == 7 and all(isinstance(e, ValidationError) for e in errors)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(RecoveryCode.used_at.is_not(None))) == 1
