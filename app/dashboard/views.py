"""The dashboard: a read-only summary of services, invoices and the balance."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, redirect, url_for
from flask_login import current_user

from app.access.policy import can_open
from app.core.dates import today
from app.core.rendering import render_page
from app.dashboard.services import dashboard_counts
from app.extensions import db
from app.hosting.services import upcoming_renewals
from app.invoices.services import unpaid_proformas
from app.notify.services import mark_notice_read, unread_notices

bp = Blueprint("dashboard", __name__)


@bp.route("/")
def index():
    client = current_user.client
    on = today()
    return render_page(
        "dashboard/index.html",
        "dashboard/_summary.html",
        client=client,
        notices=unread_notices(current_user.id),
        counts=dashboard_counts(client.id),
        today=on,
        to_pay=unpaid_proformas(client.id) if can_open(current_user, "invoices.index") else [],
        renewals=upcoming_renewals(client.id, until=on + timedelta(days=30))
        if can_open(current_user, "hosting.services")
        else [],
    )


@bp.post("/notices/<int:notice_id>/read")
def notice_read(notice_id: int):
    """Mark one of the user's own staff notices read (another's is a 404)."""
    if mark_notice_read(current_user.id, notice_id) is None:
        abort(404)
    db.session.commit()
    return redirect(url_for("dashboard.index"))
