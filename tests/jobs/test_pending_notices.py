"""The billing run renders its notices outside its batches, and never loses one."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.billing.run import run_billing
from app.extensions import db
from app.notify import pending
from app.notify.models import EmailMessage, PendingNotice
from app.notify.outbox import flush_outbox
from tests.helpers import make_owner, make_service

RUN = date(2026, 12, 1)


def proforma_emails(app) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(sa.func.count()).select_from(EmailMessage).where(EmailMessage.template == "proforma_issued")
        )


def test_the_run_leaves_no_pending_notice_and_one_email(app):
    owner = make_owner(app)
    make_service(app, owner.client_id, due=RUN + timedelta(days=5))
    with app.app_context():
        run_billing(RUN)
        run_billing(RUN)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PendingNotice)) == 0
    assert proforma_emails(app) == 1


def test_a_notice_left_by_a_run_that_died_is_rendered_once_later(app, monkeypatch):
    owner = make_owner(app)
    make_service(app, owner.client_id, due=RUN + timedelta(days=5))

    take_one = pending._take_one

    def dies():
        if db.session.scalar(sa.select(sa.func.count()).select_from(PendingNotice)):
            raise RuntimeError("the process died after the batch commit")
        return take_one()

    with app.app_context():
        monkeypatch.setattr(pending, "_take_one", dies)
        with pytest.raises(RuntimeError):
            run_billing(RUN)
        monkeypatch.undo()
        # The proforma committed with its notice; nothing was rendered yet.
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PendingNotice)) == 1
    assert proforma_emails(app) == 0
    with app.app_context():
        flush_outbox()  # the every-minute sweeper renders what the run left
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PendingNotice)) == 0
        assert pending.render_pending_notices() == 0
        flush_outbox()
    assert proforma_emails(app) == 1
