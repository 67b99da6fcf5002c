"""The four-eyes service: what waits (the threshold, kinds that always wait), a double
submit asks once, and expiry (lazy: a pending request past its time cannot be approved)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.approvals import services as approvals
from app.approvals.models import ApprovalRequest, ApprovalStatus
from app.core.actors import Actor
from app.core.errors import Conflict, DomainError, ValidationError
from app.core.types import utcnow
from app.extensions import db
from app.staff import privileges as P
from tests.support.staff import make_staff

calls: list[tuple[dict, str]] = []


@pytest.fixture
def kinds():
    approvals.register("test.always", privilege=P.CLOSE_CLIENTS, label="Always", run=lambda p, a: None, always=True)
    approvals.register(
        "test.money", privilege=P.MANAGE_BILLING, label="Money", run=lambda p, a: calls.append((p, str(a)))
    )
    calls.clear()
    yield
    approvals._KINDS.pop("test.always")
    approvals._KINDS.pop("test.money")


def test_what_waits_follows_the_threshold_and_the_kind(app, kinds):
    with app.app_context():
        app.config["FOUR_EYES_THRESHOLD_MINOR"] = 10000
        assert not approvals.needs_approval("test.money", 10000)
        assert approvals.needs_approval("test.money", 10001)
        assert approvals.needs_approval("test.money", -10001)
        assert approvals.needs_approval("test.always", 1)
        app.config["FOUR_EYES_THRESHOLD_MINOR"] = 0
        assert approvals.needs_approval("test.money", 1)
        with pytest.raises(DomainError):
            approvals.needs_approval("no.such.kind", 1)


def _submit(actor, key="k1", reason="Because"):
    return approvals.submit(
        "test.money",
        {"x": 1},
        client_id=None,
        amount_minor=20000,
        currency="EUR",
        summary="Move money",
        reason=reason,
        actor=actor,
        key=key,
    )


def test_a_double_submit_asks_once_and_a_reason_is_required(app, kinds):
    first = make_staff(app, P.MANAGE_BILLING, email="a@example.com")
    with app.app_context():
        actor = Actor("staff", first.id)
        assert _submit(actor).id == _submit(actor).id
        with pytest.raises(ValidationError):
            _submit(actor, key="k2", reason=" ")
        assert db.session.query(ApprovalRequest).count() == 1


def test_approve_runs_once_for_another_staff_member_and_refuses_the_rest(app, kinds):
    first = make_staff(app, P.MANAGE_BILLING, email="a@example.com")
    second = make_staff(app, P.MANAGE_BILLING, email="b@example.com")
    reader = make_staff(app, P.VIEW_CLIENTS, email="c@example.com")
    with app.app_context():
        request = _submit(Actor("staff", first.id))
        db.session.commit()
        with pytest.raises(Conflict):
            approvals.approve(request.id, Actor("staff", first.id))
        with pytest.raises(Conflict):
            approvals.approve(request.id, Actor("staff", reader.id))
        assert calls == []
        approvals.approve(request.id, Actor("staff", second.id))
        assert calls == [({"x": 1}, f"staff:{second.id}")]
        with pytest.raises(Conflict):
            approvals.approve(request.id, Actor("staff", second.id))
        assert len(calls) == 1


def test_an_expired_request_cannot_be_approved_and_is_not_counted(app, kinds):
    first = make_staff(app, P.MANAGE_BILLING, email="a@example.com")
    second = make_staff(app, P.MANAGE_BILLING, email="b@example.com")
    with app.app_context():
        request = _submit(Actor("staff", first.id))
        assert approvals.pending_count() == 1
        assert request.expires_at - request.created_at == timedelta(hours=app.config["FOUR_EYES_TTL_HOURS"])
        request.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert approvals.pending_count() == 0 and request.is_expired(utcnow())
        with pytest.raises(approvals.RequestExpired):
            approvals.approve(request.id, Actor("staff", second.id))
        assert request.status is ApprovalStatus.EXPIRED and calls == []
