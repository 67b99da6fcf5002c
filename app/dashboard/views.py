"""The dashboard: a read-only summary of services, invoices and the balance."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint
from flask_login import current_user

from app.access.policy import can_open
from app.core.dates import today
from app.core.rendering import render_page
from app.dashboard.services import dashboard_counts
from app.hosting.services import upcoming_renewals
from app.invoices.services import unpaid_proformas

bp = Blueprint("dashboard", __name__)


@bp.route("/")
def index():
    client = current_user.client
    on = today()
    return render_page(
        "dashboard/index.html",
        "dashboard/_summary.html",
        client=client,
        counts=dashboard_counts(client.id),
        today=on,
        to_pay=unpaid_proformas(client.id) if can_open(current_user, "invoices.index") else [],
        renewals=upcoming_renewals(client.id, until=on + timedelta(days=30))
        if can_open(current_user, "hosting.services")
        else [],
    )
