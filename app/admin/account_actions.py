"""The profile's account actions (buttons in the header of /admin/clients/<id>): login as
client (support access), set a password without email, send a reset link, change the
currency. Each is a small form page; the rules live in the services it calls."""

from __future__ import annotations

from flask import flash, redirect, render_template, session, url_for
from flask_login import current_user

from app.admin.account_forms import CurrencyForm, LoginAsForm, SendResetForm, SetPasswordForm
from app.admin.blueprint import bp
from app.admin.client_profile import client_or_404
from app.clients.models import Client
from app.core.actors import request_actor
from app.core.form_actions import run_form_action
from app.core.i18n import _
from app.core.ratelimit import rate_limited
from app.extensions import db
from app.security.impersonation import start_impersonation
from app.security.services import send_password_reset_by_staff, set_password_by_staff
from app.staff.services import IMPERSONATION_SESSION_KEY, end_impersonation
from app.wallet.services import change_client_currency


def _page(client: Client, action: str, form, *, status: int = 200):
    return render_template("admin/account_action.html", client=client, action=action, form=form), status


def _back(client: Client):
    return redirect(url_for("admin.client", client_id=client.id))


@bp.route("/clients/<int:client_id>/login-as", methods=["GET", "POST"])
@rate_limited()  # a sign-in (as the client) and an email to the owner: not in a loop
def client_login_as(client_id: int):
    client = client_or_404(client_id)
    form = LoginAsForm()
    if form.validate_on_submit():
        previous = session.pop(IMPERSONATION_SESSION_KEY, None)
        actor = request_actor()
        if previous:  # one support access per browser: a new one ends the one before
            end_impersonation(previous, "replaced", staff_id=current_user.id, actor=actor)
        result = run_form_action(
            form,
            lambda: start_impersonation(
                current_user, client, reason=form.reason.data, minutes=form.minutes.data, actor=actor
            ),
        )
        if result.ok:
            session[IMPERSONATION_SESSION_KEY] = result.value.id
            return redirect(url_for("dashboard.index"))
    return _page(client, "login_as", form, status=422 if form.is_submitted() else 200)


@bp.post("/impersonation/end", endpoint="end_impersonation")
def end_impersonation_view():
    """The banner's "Back to the admin" in the client area: ends the support access."""
    impersonation_id = session.pop(IMPERSONATION_SESSION_KEY, None)
    if impersonation_id is None:
        return redirect(url_for("admin.index"))
    impersonation = end_impersonation(
        impersonation_id, "back to the admin", staff_id=current_user.id, actor=request_actor()
    )
    db.session.commit()
    flash(_("You are back in the admin: your sign-in as the client has ended."), "info")
    if impersonation is None:
        return redirect(url_for("admin.index"))
    return redirect(url_for("admin.client", client_id=impersonation.client_id))


@bp.route("/clients/<int:client_id>/password", methods=["GET", "POST"])
def client_password(client_id: int):
    client = client_or_404(client_id)
    form = SetPasswordForm.for_client(client)
    if form.validate_on_submit():
        user = form.user(client)
        result = run_form_action(
            form, lambda: set_password_by_staff(user, form.new_password.data, actor=request_actor())
        )
        if result.ok:
            flash(_("The password of %(email)s is set; their sessions have ended.", email=user.email), "success")
            return _back(client)
    return _page(client, "password", form, status=422 if form.is_submitted() else 200)


@bp.route("/clients/<int:client_id>/password-reset", methods=["GET", "POST"])
@rate_limited()  # each one emails the user
def client_password_reset(client_id: int):
    client = client_or_404(client_id)
    form = SendResetForm.for_client(client)
    if form.validate_on_submit():
        user = form.user(client)
        result = run_form_action(form, lambda: send_password_reset_by_staff(user, actor=request_actor()))
        if result.ok:
            flash(_("A password reset link is on its way to %(email)s.", email=user.email), "success")
            return _back(client)
    return _page(client, "password_reset", form, status=422 if form.is_submitted() else 200)


@bp.route("/clients/<int:client_id>/currency", methods=["GET", "POST"])
def client_currency(client_id: int):
    client = client_or_404(client_id)
    form = CurrencyForm()
    if form.validate_on_submit():
        result = run_form_action(
            form,
            lambda: change_client_currency(
                client.id, form.currency.data, rate=form.rate_value(), actor=request_actor()
            ),
        )
        if result.ok:
            flash(_("The client's currency is now %(currency)s.", currency=result.value.currency), "success")
            return _back(client)
    return _page(client, "currency", form, status=422 if form.is_submitted() else 200)
