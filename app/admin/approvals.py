"""Four-eyes (/admin/approvals): the changes waiting for a second staff member, to approve
or reject. Who may approve which kind is the approvals service's rule, not this view's."""

from __future__ import annotations

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for

from app.admin import paging
from app.admin.blueprint import bp
from app.admin.money_forms import ApproveRequestForm, RejectRequestForm
from app.approvals import services as approvals
from app.approvals.models import ApprovalRequest, ApprovalStatus
from app.clients.models import Client
from app.core.actors import request_actor
from app.core.form_actions import run_form_action
from app.core.i18n import _
from app.core.types import utcnow
from app.extensions import db
from app.staff.models import Staff


def _page(forms: dict | None = None, status: int = 200, refused: int | None = None):
    """The list; `forms` maps a request id to the (approve, reject) forms that were refused
    (request `refused`: its messages also head its card, for one no longer open)."""
    pending, decided = _pending_and_decided()
    rows = [*pending.rows, *decided.rows]
    staff_ids = {r.requested_by for r in rows} | {r.decided_by for r in rows if r.decided_by}
    client_ids = {r.client_id for r in rows if r.client_id}
    names = (
        dict(db.session.execute(sa.select(Staff.id, Staff.name).where(Staff.id.in_(staff_ids))).all())
        if staff_ids
        else {}
    )
    clients = (
        {c.id: c for c in db.session.scalars(sa.select(Client).where(Client.id.in_(client_ids)))} if client_ids else {}
    )
    blank = {
        r.id: (
            ApproveRequestForm(formdata=None, prefix=_prefix(r.id)),
            RejectRequestForm(formdata=None, prefix=_prefix(r.id)),
        )
        for r in rows
        if r.status is ApprovalStatus.PENDING
    }
    page = render_template(
        "admin/approvals.html",
        rows=rows,
        names=names,
        clients=clients,
        forms=blank | (forms or {}),
        refusals={refused: [m for form in forms[refused] for m in _messages(form)]} if refused else {},
        now=utcnow(),
        kind_label=approvals.kind_label,
        more={
            _("Waiting"): pending.after and _more_url("pending_after", pending.after),
            _("Decided recently"): decided.after and _more_url("decided_after", decided.after),
        },
    )
    return page, status


def _pending_and_decided() -> tuple[paging.KeysetPage, paging.KeysetPage]:
    """A keyset page of each list: the pending requests oldest first (they waited longest,
    `?pending_after=`), then the decided ones newest first (`?decided_after=`)."""
    is_pending = ApprovalRequest.status == ApprovalStatus.PENDING
    lists = []
    for name, where, descending in (("pending_after", is_pending, False), ("decided_after", ~is_pending, True)):
        lists.append(
            paging.keyset_page(
                sa.select(ApprovalRequest).where(where),
                [ApprovalRequest.id],
                after=request.args.get(name, ""),
                name=name,
                descending=descending,
                size=paging.STAFF_PAGE,
                key_of=lambda r: [r.id],
                types=[int],
            )
        )
    return lists[0], lists[1]


def _more_url(name: str, cursor: str) -> str:
    return url_for("admin.approvals", **{**request.args.to_dict(), name: cursor})


def _messages(form) -> list[str]:
    return [*form.form_errors, *(m for field in form for m in field.errors)]


def _prefix(request_id: int) -> str:
    """Each request's forms have their own field names (and ids) on the one page."""
    return f"r{request_id}"


@bp.route("/approvals", endpoint="approvals")
def approvals_page():
    return _page()


#: Where a refusal of each decision is shown: beside the confirm tick, or the note.
ON_FORM_FIELD = {ApproveRequestForm: "confirm", RejectRequestForm: "note"}


def _decide(request_id: int, form, forms, action, done: str):
    db.get_or_404(ApprovalRequest, request_id)
    if form.validate_on_submit():
        result = run_form_action(form, action, unplaced=ON_FORM_FIELD[type(form)])
        if result.ok:
            flash(done, "success")
            return redirect(url_for("admin.approvals"))
    return _page({request_id: forms}, status=422, refused=request_id)


@bp.post("/approvals/<int:request_id>/approve")
def approval_approve(request_id: int):
    form = ApproveRequestForm(prefix=_prefix(request_id))
    return _decide(
        request_id,
        form,
        (form, RejectRequestForm(formdata=None, prefix=_prefix(request_id))),
        lambda: approvals.approve(request_id, request_actor()),
        _("Request %(id)s approved: the change is done.", id=request_id),
    )


@bp.post("/approvals/<int:request_id>/reject")
def approval_reject(request_id: int):
    form = RejectRequestForm(prefix=_prefix(request_id))
    return _decide(
        request_id,
        form,
        (ApproveRequestForm(formdata=None, prefix=_prefix(request_id)), form),
        lambda: approvals.reject(request_id, request_actor(), form.note.data),
        _("Request %(id)s rejected: nothing changed.", id=request_id),
    )
