"""RO e-Factura for staff (/admin/efactura): each reported document's state at ANAF, what is late,
rejected, invalid or waiting, the broken rules against the fields they are about, and a retry."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for

from app.admin.blueprint import bp
from app.admin.staff_forms import ActionForm
from app.admin.views import WAITING_LIMIT, _clients_by_id
from app.core.actors import request_actor
from app.core.dates import today
from app.core.form_actions import run_form_action
from app.core.i18n import _, _l
from app.core.queue import enqueue
from app.einvoice import services as efactura
from app.einvoice.models import EInvoice, EInvoiceState
from app.extensions import db

#: The lists (app.einvoice.services.reports_where), what staff must act on first.
SHOWS = {
    "attention": _l("Needs attention"),
    "late": _l("Late"),
    "rejected": _l("Rejected"),
    "invalid": _l("Invalid"),
    "waiting": _l("Waiting"),
    "accepted": _l("Accepted"),
}
STATE_LABELS = {
    EInvoiceState.NEW: _l("Being checked"),
    EInvoiceState.INVALID: _l("Invalid"),
    EInvoiceState.QUEUED: _l("To upload"),
    EInvoiceState.UNCERTAIN: _l("Upload unconfirmed"),
    EInvoiceState.PROCESSING: _l("At ANAF"),
    EInvoiceState.ACCEPTED: _l("Accepted"),
    EInvoiceState.REJECTED: _l("Rejected"),
}


@bp.route("/efactura")
def efactura_list():
    show = request.args.get("show", "attention")
    if show not in SHOWS:
        show = "attention"
    day = today()
    order = EInvoice.decided_at.desc() if show == "accepted" else EInvoice.deadline
    rows = db.session.scalars(
        sa.select(EInvoice).where(efactura.reports_where(show, day)).order_by(order, EInvoice.id).limit(WAITING_LIMIT)
    ).all()
    counts = {
        name: db.session.scalar(
            sa.select(sa.func.count()).select_from(EInvoice).where(efactura.reports_where(name, day))
        )
        for name in SHOWS
    }
    return render_template(
        "admin/efactura.html",
        rows=rows,
        show=show,
        shows=SHOWS,
        counts=counts,
        clients=_clients_by_id(r.client_id for r in rows),
        today=day,
        is_late=efactura.is_late,
        problems=efactura.problems,
        state_labels=STATE_LABELS,
        enabled=efactura.enabled(),
        retry_form=ActionForm(formdata=None),
    )


@bp.post("/efactura/<int:einvoice_id>/retry")
def efactura_retry(einvoice_id: int):
    if db.session.get(EInvoice, einvoice_id) is None:
        abort(404)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    result = run_form_action(form, lambda: efactura.retry(einvoice_id, actor=request_actor()), unplaced="toast")
    if result.ok:
        enqueue("app.einvoice.jobs.advance_einvoice", einvoice_id)  # after the commit: the job sees it
        flash(_("%(number)s is checked and sent to ANAF again.", number=result.value.number), "success")
    return redirect(url_for("admin.efactura_list", show=request.args.get("show", "attention")))


@bp.route("/efactura/<int:einvoice_id>/answer.zip")
def efactura_answer(einvoice_id: int):
    """ANAF's answer as it sent it: the invoice and the ministry's signature (or its errors)."""
    row = db.session.get(EInvoice, einvoice_id)
    if row is None or row.signed_zip is None:
        abort(404)
    number = re.sub(r"[^A-Za-z0-9-]", "", row.number) or "einvoice"
    index = re.sub(r"[^0-9]", "", row.upload_index or "")  # as ANAF sent it: keep only what an index is made of
    return current_app.response_class(
        row.signed_zip,
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{number}-anaf-{index}.zip"'},
    )
