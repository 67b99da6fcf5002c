"""Four-eyes approvals: a registry of what may wait for a second staff member, and the
request's life (submit, approve, reject, expire). Functions flush, never commit.

This package sits below the domains whose changes it holds back: the wallet (and later
the client lifecycle) register each kind with the function that does the real change,
at import time of their services module, and this module runs it on approval.

Expiry is lazy: a pending request past FOUR_EYES_TTL_HOURS is marked expired when
someone tries to approve or reject it, and shown as expired meanwhile (`is_expired`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.approvals.models import ApprovalRequest, ApprovalStatus
from app.audit import services as audit
from app.core.actors import Actor
from app.core.errors import Conflict, DomainError, ValidationError
from app.core.i18n import _, _l
from app.core.types import utcnow
from app.extensions import db
from app.staff.models import Staff


@dataclass(frozen=True)
class Kind:
    """A change that may wait for approval: who may approve it and what runs then."""

    name: str
    privilege: str
    label: str
    run: Callable[[dict, Actor], object]
    always: bool = False  # every request waits, whatever the amount (merge, delete)


_KINDS: dict[str, Kind] = {}


def register(kind: str, *, privilege: str, label: str, run: Callable[[dict, Actor], object], always: bool = False):
    """Declare `kind`: `run(payload, actor)` does the real change inside the approver's
    transaction (actor: the approver); approving it needs `privilege`."""
    _KINDS[kind] = Kind(kind, privilege, label, run, always)


def kind_of(name: str) -> Kind:
    try:
        return _KINDS[name]
    except KeyError:
        raise DomainError(_("No change of kind %(kind)s can be approved in this build.", kind=repr(name))) from None


def kind_label(name: str) -> str:
    return _KINDS[name].label if name in _KINDS else name


def threshold_minor() -> int:
    return int(current_app.config["FOUR_EYES_THRESHOLD_MINOR"])


def needs_approval(kind: str, amount_minor: int | None) -> bool:
    """Whether a change of `kind` moving `amount_minor` (either sign) must wait for a second
    staff member: always for kinds registered so, or when FOUR_EYES_THRESHOLD_MINOR is 0;
    else when the amount is above the threshold."""
    if kind_of(kind).always:
        return True
    threshold = threshold_minor()
    return threshold <= 0 or abs(amount_minor or 0) > threshold


def submit(
    kind: str,
    payload: dict,
    *,
    client_id: int | None,
    amount_minor: int | None,
    currency: str | None,
    summary: str,
    reason: str,
    actor: Actor,
    key: str | None = None,
) -> ApprovalRequest:
    """Write a pending request (nothing moves) and audit it. The same `key` again returns
    the first request. Raises ValidationError without a reason."""
    kind_of(kind)
    if not (reason or "").strip():
        raise ValidationError(_("Give a reason: the second staff member reads it."), field="reason")
    if key is not None:
        existing = db.session.scalar(sa.select(ApprovalRequest).where(ApprovalRequest.idempotency_key == key))
        if existing is not None:
            return existing
    now = utcnow()
    request = ApprovalRequest(
        kind=kind,
        client_id=client_id,
        payload=payload,
        amount_minor=amount_minor,
        currency=currency,
        summary=summary[:255],
        reason=reason.strip()[:255],
        idempotency_key=key,
        requested_by=actor.id,
        created_at=now,
        expires_at=now + timedelta(hours=int(current_app.config["FOUR_EYES_TTL_HOURS"])),
    )
    db.session.add(request)
    db.session.flush()
    audit.record(
        actor,
        "approval.request",
        client_id=client_id,
        target=f"approval:{request.id}",
        new=f"{kind}: {request.summary} ({request.reason})",
    )
    return request


#: Why a decided request cannot be decided again, by its status.
_ALREADY = {
    ApprovalStatus.APPROVED: _l("This request was already approved; nothing changed."),
    ApprovalStatus.REJECTED: _l("This request was already rejected; nothing changed."),
    ApprovalStatus.EXPIRED: _l("This request was already expired; nothing changed."),
}


def _locked_pending(request_id: int) -> ApprovalRequest:
    """The request under its row lock (SELECT ... FOR UPDATE), still pending. Raises
    DomainError for an unknown id, Conflict for one already decided."""
    request = db.session.get(ApprovalRequest, request_id, with_for_update=True, populate_existing=True)
    if request is None:
        raise DomainError(_("No such approval request."))
    if request.status is not ApprovalStatus.PENDING:
        raise Conflict(str(_ALREADY.get(request.status, _ALREADY[ApprovalStatus.APPROVED])))
    return request


class RequestExpired(Conflict):
    def __init__(self) -> None:
        super().__init__(_("This request has expired: ask for the change again if it is still needed."))


def expire_if_due(request: ApprovalRequest) -> bool:
    """Mark a pending request past its time expired; True if it is (or already was)."""
    if request.status is ApprovalStatus.PENDING and request.expires_at <= utcnow():
        request.status = ApprovalStatus.EXPIRED
        db.session.flush()
    return request.status is ApprovalStatus.EXPIRED


def approve(request_id: int, actor: Actor) -> ApprovalRequest:
    """A second staff member (`actor`) approves: run the kind's change and mark the request
    approved, in the caller's transaction. Refuses (Conflict) the requester themself, a
    request no longer pending or expired (RequestExpired; the lazy mark is rolled back
    with the refusal, and the page shows it expired from its time anyway), and
    (ValidationError) an approver without the kind's privilege."""
    request = _locked_pending(request_id)
    kind = kind_of(request.kind)
    if expire_if_due(request):
        raise RequestExpired()
    if actor.kind != "staff" or actor.id == request.requested_by:
        raise Conflict(_("You asked for this change: another staff member must approve it."))
    approver = db.session.get(Staff, actor.id)
    if approver is None or not approver.has_privilege(kind.privilege):
        raise Conflict(_("Approving this needs a privilege your staff roles do not include."))
    kind.run(dict(request.payload), actor)
    _decide(request, ApprovalStatus.APPROVED, actor, note=None)
    audit.record(
        actor,
        "approval.approve",
        client_id=request.client_id,
        target=f"approval:{request.id}",
        old=f"{request.kind} asked by staff:{request.requested_by}",
        new=f"approved: {request.summary}",
    )
    return request


def reject(request_id: int, actor: Actor, note: str) -> ApprovalRequest:
    """A staff member turns the request down (the requester may withdraw their own): nothing
    moves. Raises ValidationError without a note, Conflict when it is no longer pending."""
    request = _locked_pending(request_id)
    if expire_if_due(request):
        raise RequestExpired()
    if not (note or "").strip():
        raise ValidationError(_("Say why, for the requester."), field="note")
    _decide(request, ApprovalStatus.REJECTED, actor, note=note.strip()[:255])
    audit.record(
        actor,
        "approval.reject",
        client_id=request.client_id,
        target=f"approval:{request.id}",
        old=f"{request.kind} asked by staff:{request.requested_by}",
        new=f"rejected: {request.decision_note}",
    )
    return request


def _decide(request: ApprovalRequest, status: ApprovalStatus, actor: Actor, *, note: str | None) -> None:
    request.status = status
    request.decided_by, request.decided_at, request.decision_note = actor.id, utcnow(), note
    db.session.flush()


def pending_count() -> int:
    """Requests waiting for a second staff member and still in time (the staff home's tile)."""
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(ApprovalRequest)
        .where(ApprovalRequest.status == ApprovalStatus.PENDING, ApprovalRequest.expires_at > utcnow())
    )


def pending_for(client_id: int, kind: str) -> list[ApprovalRequest]:
    """A client's pending requests of `kind` (still in time)."""
    return db.session.scalars(
        sa.select(ApprovalRequest)
        .where(
            ApprovalRequest.client_id == client_id,
            ApprovalRequest.kind == kind,
            ApprovalRequest.status == ApprovalStatus.PENDING,
            ApprovalRequest.expires_at > utcnow(),
        )
        .order_by(ApprovalRequest.id)
    ).all()


def listing(limit: int = 100) -> list[ApprovalRequest]:
    """Pending requests first (oldest first: they waited longest), then the latest decided."""
    pending = db.session.scalars(
        sa.select(ApprovalRequest)
        .where(ApprovalRequest.status == ApprovalStatus.PENDING)
        .order_by(ApprovalRequest.id)
        .limit(limit)
    ).all()
    decided = db.session.scalars(
        sa.select(ApprovalRequest)
        .where(ApprovalRequest.status != ApprovalStatus.PENDING)
        .order_by(ApprovalRequest.id.desc())
        .limit(30)
    ).all()
    return [*pending, *decided]
