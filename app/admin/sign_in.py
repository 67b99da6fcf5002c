"""Staff sign-in (password, then a TOTP or recovery code) and sign-out."""

from __future__ import annotations

import time

import sqlalchemy as sa
from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import logout_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired

from app.admin.blueprint import bp
from app.clients.services import normalize_email
from app.core.actors import Actor
from app.core.errors import InvalidCredentials, ValidationError
from app.core.form_actions import run_form_action
from app.core.forms import EmailPasswordForm as LoginForm
from app.core.i18n import _, _l
from app.core.ratelimit import rate_limited
from app.core.totp import new_totp_secret, provisioning_qr_svg
from app.core.urls import is_safe_next
from app.extensions import db
from app.security.services import record_login
from app.security.signin import log_in
from app.staff.models import Staff
from app.staff.services import (
    authenticate_staff,
    enable_staff_2fa,
    record_staff_login_event,
    verify_staff_second_factor,
)

PENDING_KEY = "staff_pending"  # {"id", "stamp", "at"}: the password was right, the code is still due
PENDING_SECONDS = 5 * 60


class CodeForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(message=_l("Enter the code."))])


def _log_event(email: str, staff: Staff | None, *, succeeded: bool, reason: str) -> None:
    record_staff_login_event(
        email, staff, succeeded=succeeded, reason=reason, ip=request.remote_addr, user_agent=request.user_agent.string
    )


def _next_url() -> str:
    target = request.args.get("next")
    return target if is_safe_next(target) else url_for("admin.index")


@bp.route("/login", methods=["GET", "POST"])
@rate_limited(per_account=True)
def login():
    form = LoginForm()
    if form.validate_on_submit():
        result = run_form_action(
            form, lambda: authenticate_staff(form.email.data, form.password.data), catch=InvalidCredentials
        )
        if not result.ok:
            known = db.session.scalar(sa.select(Staff).where(Staff.email == normalize_email(form.email.data)))
            _log_event(form.email.data, known, succeeded=False, reason="wrong_password")
            db.session.commit()
        else:
            return password_step_passed(result.value, method="password")
    status = 422 if form.is_submitted() else 200
    return render_template("admin/login.html", form=form), status


def password_step_passed(staff: Staff, *, method: str):
    """The password is right (typed, or just chosen from an invite): on to the code step,
    or to enrolment for one without 2FA while it is required; else signed in now."""
    session.pop(PENDING_KEY, None)
    if staff.has_2fa or current_app.config["STAFF_2FA_REQUIRED"]:
        session[PENDING_KEY] = {"id": staff.id, "stamp": staff.security_stamp, "at": int(time.time())}
        step = "admin.login_code" if staff.has_2fa else "admin.login_enrol"
        return redirect(url_for(step, next=request.args.get("next")))
    _finish(staff, method)
    return redirect(_next_url())


def _pending_staff() -> Staff | None:
    """The staff member whose password step is done, if it is recent and still theirs."""
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    staff = db.session.get(Staff, pending.get("id"))
    fresh = time.time() - pending.get("at", 0) <= PENDING_SECONDS
    if staff is None or not staff.is_active or staff.security_stamp != pending.get("stamp") or not fresh:
        session.pop(PENDING_KEY, None)
        if staff is not None:
            _log_event(staff.email, staff, succeeded=False, reason="expired_step" if not fresh else "inactive")
            db.session.commit()
        return None
    return staff


@bp.route("/login/code", methods=["GET", "POST"])
@rate_limited(per_account=True)
def login_code():
    staff = _pending_staff()
    if staff is not None and not staff.has_2fa:
        return redirect(url_for("admin.login_enrol", next=request.args.get("next")))
    if staff is None:
        flash(_("Your sign-in took too long or was not started. Sign in again."), "error")
        return redirect(url_for("admin.login", next=request.args.get("next")))
    form = CodeForm()
    if form.validate_on_submit():
        result = run_form_action(
            form, lambda: verify_staff_second_factor(staff.id, form.code.data), catch=ValidationError
        )
        if result.ok:
            session.pop(PENDING_KEY, None)
            _finish(staff, result.value)
            return redirect(_next_url())
        _log_event(staff.email, staff, succeeded=False, reason="wrong_code")
        db.session.commit()
    status = 422 if form.is_submitted() else 200
    return render_template("admin/login_code.html", form=form), status


@bp.route("/login/enrol", methods=["GET", "POST"])
@rate_limited(per_account=True)
def login_enrol():
    """First sign-in with 2FA required: set up the authenticator app, then sign in."""
    staff = _pending_staff()
    if staff is not None and staff.has_2fa:
        return redirect(url_for("admin.login_code", next=request.args.get("next")))
    if staff is None:
        flash(_("Your sign-in took too long or was not started. Sign in again."), "error")
        return redirect(url_for("admin.login", next=request.args.get("next")))
    pending = session[PENDING_KEY]
    if "secret" not in pending:
        pending["secret"] = new_totp_secret()
        session[PENDING_KEY] = pending
    secret = pending["secret"]
    form = CodeForm()
    if form.validate_on_submit():
        actor = Actor.staff(staff, ip=request.remote_addr)
        result = run_form_action(
            form, lambda: enable_staff_2fa(staff, secret, form.code.data, actor=actor), catch=ValidationError
        )
        if result.ok:
            session.pop(PENDING_KEY, None)
            _finish(staff, "totp")
            return render_template("admin/login_recovery_codes.html", codes=result.value, next_url=_next_url())
        _log_event(staff.email, staff, succeeded=False, reason="wrong_code")
        db.session.commit()
    qr = provisioning_qr_svg(staff.email, current_app.config["BRAND_NAME"] + " staff", secret)
    status = 422 if form.is_submitted() else 200
    return render_template("admin/login_enrol.html", form=form, qr=qr, secret=secret), status


def _finish(staff: Staff, method: str) -> None:
    """The last step passed: log the success, start the session, commit."""
    record_login(staff, request.remote_addr)
    _log_event(staff.email, staff, succeeded=True, reason=method)
    log_in(staff)
    db.session.commit()


@bp.post("/logout")
def logout():
    logout_user()
    session.clear()
    flash(_("You have been signed out."), "info")
    return redirect(url_for("admin.login"))
