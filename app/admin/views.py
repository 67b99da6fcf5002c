"""Staff login and the admin home."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user

from app.account.forms import LoginForm
from app.account.services import InvalidCredentials, record_login
from app.admin.services import authenticate_staff
from app.core.auth import log_in, staff_required
from app.core.urls import is_safe_next
from app.extensions import db

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            staff = authenticate_staff(form.email.data, form.password.data)
        except InvalidCredentials as exc:
            error = exc.message
        else:
            record_login(staff, request.remote_addr)
            db.session.commit()
            log_in(staff)
            target = request.args.get("next")
            return redirect(target if is_safe_next(target) else url_for("admin.index"))
    status = 422 if form.is_submitted() else 200
    return render_template("admin/login.html", form=form, error=error), status


@bp.post("/logout")
def logout():
    logout_user()
    session.clear()
    flash("You have been signed out.", "info")
    return redirect(url_for("admin.login"))


@bp.route("/")
@staff_required
def index():
    return render_template("admin/index.html", staff=current_user)
