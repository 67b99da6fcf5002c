"""Staff sign-in and sign-out."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import logout_user

from app.admin.blueprint import bp
from app.core.errors import InvalidCredentials
from app.core.form_actions import run_form_action
from app.core.forms import EmailPasswordForm as LoginForm
from app.core.ratelimit import rate_limited
from app.core.urls import is_safe_next
from app.security.services import record_login
from app.security.signin import log_in
from app.staff.services import authenticate_staff


@bp.route("/login", methods=["GET", "POST"])
@rate_limited(per_account=True)
def login():
    form = LoginForm()
    if form.validate_on_submit():
        result = run_form_action(form, lambda: _sign_in(form.email.data, form.password.data), catch=InvalidCredentials)
        if result.ok:
            log_in(result.value)
            target = request.args.get("next")
            return redirect(target if is_safe_next(target) else url_for("admin.index"))
    status = 422 if form.is_submitted() else 200
    return render_template("admin/login.html", form=form), status


def _sign_in(email: str, password: str):
    staff = authenticate_staff(email, password)
    record_login(staff, request.remote_addr)
    return staff


@bp.post("/logout")
def logout():
    logout_user()
    session.clear()
    flash("You have been signed out.", "info")
    return redirect(url_for("admin.login"))
