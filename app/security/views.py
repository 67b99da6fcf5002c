"""The Security page: password, email change, 2FA, IP allow-list, sessions, alerts; re-authentication."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import confirm_login, current_user, fresh_login_required

from app.core.actors import request_actor
from app.core.errors import DomainError, ValidationError
from app.core.form_actions import run_form_action
from app.core.forms import CodeForm
from app.core.i18n import _
from app.core.ratelimit import rate_limited
from app.core.rendering import redirect_to
from app.core.signing import InvalidToken
from app.core.totp import new_totp_secret
from app.core.urls import is_safe_next
from app.extensions import db, login_manager
from app.security import reauth
from app.security import services as sec
from app.security.forms import (
    AllowlistForm,
    EmailChangeForm,
    EnableTwoFactorForm,
    EndSessionForm,
    LoginAlertsForm,
    PasswordChangeForm,
    ReauthenticateForm,
)
from app.security.models import LoginEvent, UserSession
from app.security.services import check_password
from app.security.signin import log_in

bp = Blueprint("security", __name__)

T = TypeVar("T")


# A change asked for on a non-fresh session is kept and made once the password is confirmed.
login_manager.needs_refresh_handler(reauth.ask_for_password)
bp.before_app_request(reauth.restore_kept_form)


# --- the second login step ----------------------------------------------------------


@bp.route("/account/reauthenticate", methods=["GET", "POST"])
@rate_limited(per_account=True)
def reauthenticate():
    """Confirm the password before a sensitive change (a login from an email link is not fresh)."""
    form = ReauthenticateForm()
    pending = reauth.pending_change(request.args.get("resume"))
    if form.validate_on_submit():
        if check_password(current_user, form.password.data):
            confirm_login()
            if pending is not None:
                return reauth.resume(pending)  # the change asked for, made now
            target = request.args.get("next")
            return redirect_to(target if is_safe_next(target) else url_for("security.index"))
        form.password.errors = [_("That password is not correct.")]
    status = 422 if form.is_submitted() else 200
    return render_template("security/reauthenticate.html", form=form, pending=pending), status


# --- the Security page ------------------------------------------------------------------


def _security_page(status: int = 200, **forms):
    user = current_user
    sessions = db.session.scalars(
        sa.select(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .order_by(UserSession.id.desc())
    ).all()
    logins = db.session.scalars(
        sa.select(LoginEvent).where(LoginEvent.user_id == user.id).order_by(LoginEvent.id.desc()).limit(10)
    ).all()
    context = {
        "password_form": PasswordChangeForm(formdata=None),
        "email_form": EmailChangeForm(formdata=None),
        "allowlist_form": AllowlistForm(formdata=None, ip_allowlist="\n".join(user.ip_allowlist or [])),
        "alerts_form": LoginAlertsForm(formdata=None, login_alerts=user.login_alerts),
        "end_form": EndSessionForm(formdata=None),
        "disable_form": CodeForm(formdata=None),
        **forms,
    }
    return render_template(
        "security/index.html",
        sessions=sessions,
        logins=logins,
        current_token=session.get(sec.SESSION_KEY),
        codes_left=sec.recovery_codes_left(user),
        **context,
    ), status


@bp.route("/account/security")
def index():
    return _security_page()


def _keeping_this_browser(change: Callable[[], T]) -> Callable[[], T]:
    """`change` (it rotates the security stamp), then a new session for this browser
    under the new stamp (and its remember cookie, if it had one)."""

    def action() -> T:
        value = change()
        log_in(current_user, remember=None)
        return value

    return action


@bp.post("/account/security/password")
@fresh_login_required
def password():
    form = PasswordChangeForm()
    change = _keeping_this_browser(
        lambda: sec.change_password(
            current_user, form.current_password.data, form.new_password.data, actor=request_actor()
        )
    )
    if form.validate_on_submit() and run_form_action(form, change, catch=ValidationError).ok:
        flash(_("Password changed. Your other sessions were signed out."), "success")
        return redirect(url_for("security.index"))
    return _security_page(422, password_form=form)


@bp.post("/account/security/email")
@fresh_login_required
def email():
    form = EmailChangeForm()
    if (
        form.validate_on_submit()
        and run_form_action(
            form,
            lambda: sec.request_email_change(current_user, form.new_email.data, form.password.data),
            catch=ValidationError,
        ).ok
    ):
        flash(
            _(
                "We sent a confirmation link to %(email)s. Your email changes when you open it.",
                email=form.new_email.data,
            ),
            "info",
        )
        return redirect(url_for("security.index"))
    return _security_page(422, email_form=form)


@bp.route("/account/confirm-email/<token>")
@rate_limited()
def confirm_email(token: str):
    """The link from the new address: a refused one is an error message on the login page."""
    result = run_form_action(
        None, lambda: sec.confirm_email_change(token, actor=request_actor()), catch=(InvalidToken, DomainError)
    )
    if result.ok:
        flash(_("Your email address was changed. Please sign in with it."), "success")
    elif isinstance(result.error, InvalidToken):  # a DomainError is already shown
        flash(_("This link is invalid or has expired."), "error")
    return redirect(url_for("auth.login"))


@bp.post("/account/security/allowlist")
@fresh_login_required
def allowlist():
    form = AllowlistForm()
    change = _keeping_this_browser(  # a new session (and remember cookie) under the new list
        lambda: sec.set_allowlist(
            current_user, form.ip_allowlist.data or "", confirm_lockout=form.confirm_lockout.data, actor=request_actor()
        )
    )
    if form.validate_on_submit() and run_form_action(form, change, catch=ValidationError).ok:
        flash(_("IP allow-list saved."), "success")
        return redirect(url_for("security.index"))
    return _security_page(422, allowlist_form=form)


@bp.post("/account/security/alerts")
@fresh_login_required
def alerts():
    form = LoginAlertsForm()
    if form.validate_on_submit():
        sec.set_login_alerts(current_user, form.login_alerts.data, actor=request_actor())
        db.session.commit()
        flash(_("Saved."), "success")
    return redirect(url_for("security.index"))


@bp.post("/account/security/sessions/end")
def end_session():
    form = EndSessionForm()
    if form.validate_on_submit() and (form.session_id.data or "").isdigit():
        ended = sec.end_sessions(current_user, only_id=int(form.session_id.data))
        db.session.commit()
        if ended:
            flash(_("That session was signed out."), "success")
    return redirect(url_for("security.index"))


# --- two-factor setup -----------------------------------------------------------------


@bp.route("/account/security/2fa", methods=["GET", "POST"])
@fresh_login_required
@rate_limited(per_account=True)
def twofactor_setup():
    if current_user.has_2fa:
        return redirect(url_for("security.index"))
    form = EnableTwoFactorForm()
    if not form.is_submitted():
        session["totp_pending"] = new_totp_secret()
    secret = session.get("totp_pending") or new_totp_secret()
    session["totp_pending"] = secret
    enable = _keeping_this_browser(lambda: sec.enable_2fa(current_user, secret, form.code.data, actor=request_actor()))
    result = run_form_action(form, enable, catch=ValidationError) if form.validate_on_submit() else None
    if result is not None and result.ok:
        session.pop("totp_pending", None)
        sec.offer_recovery_download(current_user, result.value)
        return render_template("security/recovery_codes.html", codes=result.value, first=True)
    status = 422 if form.is_submitted() else 200
    qr = sec.provisioning_qr_svg(current_user, secret)
    return render_template("security/twofactor_setup.html", form=form, qr=qr, secret=secret), status


@bp.post("/account/security/2fa/disable")
@fresh_login_required
@rate_limited(per_account=True)
def twofactor_disable():
    form = CodeForm()
    disable = _keeping_this_browser(lambda: sec.disable_2fa(current_user, form.code.data, actor=request_actor()))
    # A wrong code is committed too: the counter of spent codes and wrong tries must hold.
    if form.validate_on_submit() and run_form_action(form, disable, catch=ValidationError, keep_on_error=True).ok:
        flash(_("Two-factor authentication is off."), "info")
        return redirect(url_for("security.index"))
    return _security_page(422, disable_form=form)


@bp.post("/account/security/2fa/recovery-codes")
@fresh_login_required
@rate_limited()
def twofactor_recovery_codes():
    if not current_user.has_2fa:
        return redirect(url_for("security.index"))
    codes = sec.new_recovery_codes(current_user)
    db.session.commit()
    sec.offer_recovery_download(current_user, codes)
    return render_template("security/recovery_codes.html", codes=codes, first=False)


@bp.post("/account/security/2fa/recovery-codes/download")
@rate_limited()
def twofactor_recovery_download():
    """The codes just made, as a text file: once, and only from the browser they were shown in."""
    codes = sec.take_recovery_download(current_user)
    if codes is None:
        flash(
            _("The codes can be downloaded only once, just after they are made. Make new ones to download them."),
            "error",
        )
        return redirect(url_for("security.index"))
    heading = _(
        "%(brand)s recovery codes for %(email)s", brand=current_app.config["BRAND_NAME"], email=current_user.email
    )
    body = "\n".join([heading, "", *codes, ""])
    return current_app.response_class(
        body,
        mimetype="text/plain",
        headers={
            "Content-Disposition": 'attachment; filename="billfold-recovery-codes.txt"',
            "Cache-Control": "no-store",
        },
    )


# --- forgotten password -----------------------------------------------------------------
