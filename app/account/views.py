"""Sign-up, login, logout and the dashboard."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, session, url_for
from flask_login import current_user, logout_user

from app.account.forms import LoginForm, RegisterForm
from app.account.models import ClientKind
from app.account.services import (
    InvalidCredentials,
    SignUp,
    authenticate,
    dashboard_counts,
    record_login,
    register_client,
)
from app.core.auth import client_login_required, log_in
from app.core.rendering import redirect_to, render_page
from app.core.urls import is_safe_next
from app.errors import ValidationError
from app.extensions import db

bp = Blueprint("account", __name__)


def _next_or(default: str) -> str:
    target = request.args.get("next")
    return target if is_safe_next(target) else default


@bp.route("/register", methods=["GET", "POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("account.dashboard"))
    form = RegisterForm()
    if form.validate_on_submit():
        data = SignUp(
            email=form.email.data,
            password=form.password.data,
            name=form.name.data,
            kind=ClientKind(form.kind.data),
            country=form.country.data,
            company_name=form.company_name.data,
            phone=form.phone.data or None,
            sms_opt_in=form.sms_opt_in.data,
        )
        try:
            user = register_client(data)
        except ValidationError as error:
            getattr(form, error.field).errors.append(error.message)
        else:
            db.session.commit()
            log_in(user)
            flash(f"Welcome! Your client ID is {user.client_id}.", "success")
            return redirect_to(url_for("account.dashboard"))
    status = 422 if form.is_submitted() else 200
    return render_page("account/register.html", "account/_register_form.html", status, form=form)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_next_or(url_for("account.dashboard")))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            user = authenticate(form.email.data, form.password.data)
        except InvalidCredentials as exc:
            error = exc.message
        else:
            record_login(user, request.remote_addr)
            db.session.commit()
            log_in(user, remember=form.remember.data)
            return redirect_to(_next_or(url_for("account.dashboard")))
    status = 422 if form.is_submitted() else 200
    return render_page("account/login.html", "account/_login_form.html", status, form=form, error=error)


@bp.post("/logout")
def logout():
    logout_user()
    session.clear()  # nothing of the old session survives, not even its CSRF token
    flash("You have been signed out.", "info")
    return redirect(url_for("account.login"))


@bp.route("/")
@client_login_required
def dashboard():
    client = current_user.client
    return render_page(
        "dashboard/index.html", "dashboard/_summary.html", client=client, counts=dashboard_counts(client.id)
    )
