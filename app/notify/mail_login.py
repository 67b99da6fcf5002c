"""/l/<token>: the invoice number in an email logs its recipient in and shows the invoice."""

from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user
from flask_wtf import FlaskForm

from app.account.security import end_current_session, ip_allowed, record_sign_in
from app.core.auth import log_in
from app.core.ratelimit import rate_limited
from app.core.signing import InvalidToken
from app.extensions import db
from app.notify.links import read_invoice_login

bp = Blueprint("mail_login", __name__)


class SwitchAccountForm(FlaskForm):
    """ "Sign out and continue as ...": only a POST with the CSRF token switches accounts."""


def _no_referrer(response):
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def mask_email(email: str) -> str:
    """'maria.popescu@example.com' -> 'ma•••@example.com': enough to recognise, not to read out."""
    local, _, domain = email.partition("@")
    return f"{local[: 2 if len(local) > 4 else 1]}•••@{domain}"


@bp.route("/l/<token>", methods=["GET", "POST"])
@rate_limited()
def open(token: str):
    """Valid link: a non-fresh session (viewing and paying work; password, email,
    2FA, IP list and trusted users ask for the password) and a redirect, so the
    token leaves the address bar. 2FA or a disallowed IP: the login page with the
    invoice as `next`. Expired, forged or void: the login page with a message.
    Someone else signed in on this browser: a question first, never a silent switch
    (a link of another account would be a login CSRF)."""
    try:
        user, invoice = read_invoice_login(token)
    except InvalidToken as error:
        flash(
            "This link has expired. Sign in to see your invoice."
            if error.expired
            else "This link is not valid (any more). Please sign in.",
            "error",
        )
        return _no_referrer(redirect(url_for("account.login")))
    target = url_for("invoices.view", number=invoice.number)
    if current_user.is_authenticated:
        if current_user.get_id() == user.get_id():
            return _no_referrer(redirect(target))
        form = SwitchAccountForm()
        if not form.validate_on_submit():
            return _switch_question(form, user, invoice)
        _sign_out_this_browser()
    if user.has_2fa or not ip_allowed(user, request.remote_addr):
        db.session.commit()  # a session signed out above stays ended
        flash("Please sign in to see this invoice.", "info")
        return _no_referrer(redirect(url_for("account.login", next=target)))
    log_in(user, remember=False, fresh=False)
    record_sign_in(user, method="email link")
    db.session.commit()
    return _no_referrer(redirect(target))


def _switch_question(form: SwitchAccountForm, user, invoice):
    """Who is signed in, whose link this is, and the choice."""
    staff = current_user.get_id().startswith("staff:")
    html = render_template(
        "account/link_switch.html",
        form=form,
        signed_in=current_user,
        link_user=user,
        link_email=mask_email(user.email),
        invoice=invoice,
        stay_url=url_for("admin.index" if staff else "account.dashboard"),
    )
    return _no_referrer(make_response(html, 200))


def _sign_out_this_browser() -> None:
    """The user chose to switch: end this browser's session as logout does."""
    if current_user.get_id().startswith("user:"):
        end_current_session(current_user)
    logout_user()
    session.clear()
