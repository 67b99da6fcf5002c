"""/l/<token>: the invoice number in an email logs its recipient in and shows the invoice."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user

from app.account.security import ip_allowed, record_login_event
from app.core.auth import log_in
from app.core.ratelimit import rate_limited
from app.core.signing import InvalidToken
from app.extensions import db
from app.notify.links import read_invoice_login

bp = Blueprint("mail_login", __name__)


def _no_referrer(response):
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/l/<token>")
@rate_limited()
def open(token: str):
    """Valid link: a non-fresh session (viewing and paying work; password, email,
    2FA, IP list and trusted users ask for the password) and a redirect, so the
    token leaves the address bar. 2FA or a disallowed IP: the login page with the
    invoice as `next`. Expired, forged or void: the login page with a message."""
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
    signed_in_as_user = current_user.is_authenticated and current_user.get_id() == user.get_id()
    if signed_in_as_user:
        return _no_referrer(redirect(target))
    if user.has_2fa or not ip_allowed(user, request.remote_addr):
        flash("Please sign in to see this invoice.", "info")
        return _no_referrer(redirect(url_for("account.login", next=target)))
    log_in(user, remember=False, fresh=False)
    record_login_event(user, succeeded=True, reason="email link")
    db.session.commit()
    return _no_referrer(redirect(target))
