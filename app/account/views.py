"""Sign-up, login, logout and the dashboard."""

from __future__ import annotations

import time
from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user

from app.account.forms import ConfirmSignUpForm, LoginForm, RegisterForm
from app.account.models import ClientKind
from app.account.security import end_sessions, ip_allowed, record_sign_in, refuse_blocked_sign_in
from app.account.services import (
    InvalidCredentials,
    SignUp,
    authenticate,
    dashboard_counts,
    find_user_by_email,
    normalize_email,
    register_client,
)
from app.account.signup import request_sign_up, sign_up_from_token
from app.core.auth import client_login_required, log_in
from app.core.dates import today
from app.core.policy import can_open
from app.core.ratelimit import rate_limited
from app.core.rendering import redirect_to, render_page
from app.core.signing import InvalidToken
from app.core.urls import is_safe_next
from app.errors import ValidationError
from app.extensions import db

bp = Blueprint("account", __name__)


def _next_or(default: str) -> str:
    target = request.args.get("next")
    return target if is_safe_next(target) else default


@bp.route("/register", methods=["GET", "POST"])
@rate_limited()
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
        # The same answer and the same work for an address with an account and one
        # without: a job sends the confirmation link, or tells the owner someone tried.
        request_sign_up(data)
        session["signup_sent_to"] = normalize_email(data.email)
        return redirect_to(url_for("account.register_sent"))
    status = 422 if form.is_submitted() else 200
    return render_page("account/register.html", "account/_register_form.html", status, form=form)


@bp.get("/register/sent")
def register_sent():
    return render_template("account/register_sent.html", address=session.get("signup_sent_to"))


@bp.route("/register/confirm/<token>", methods=["GET", "POST"])
@rate_limited()
def register_confirm(token: str):
    """The link from the confirmation email: GET asks (a link scanner opening it
    creates nothing), POST creates the account and signs the new owner in."""
    try:
        data = sign_up_from_token(token)
    except InvalidToken as error:
        flash("This sign-up link has expired. Sign up again." if error.expired else "This link is invalid.", "error")
        return redirect(url_for("account.register"))
    if find_user_by_email(data.email) is not None:
        flash("This address already has an account: sign in (or reset your password).", "info")
        return redirect(url_for("account.login"))
    form = ConfirmSignUpForm()
    if form.validate_on_submit():
        try:
            user = register_client(data)
        except ValidationError:  # the same address confirmed twice at once
            db.session.rollback()
            flash("This address already has an account: sign in (or reset your password).", "info")
            return redirect(url_for("account.login"))
        log_in(user)  # whoever this browser had signed in is signed out
        db.session.commit()
        flash(f"Welcome! Your client ID is {user.client_id}.", "success")
        return redirect_to(url_for("account.dashboard"))
    return render_template("account/register_confirm.html", form=form, data=data)


@bp.route("/login", methods=["GET", "POST"])
@rate_limited(per_account=True)
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
            if not ip_allowed(user, request.remote_addr):
                refuse_blocked_sign_in(user)  # recorded, and the user is told by email
                db.session.commit()
                # The same answer as a wrong password: a blocked address learns nothing.
                error = InvalidCredentials().message
            elif user.has_2fa:
                # Password right: the second step decides. Nothing is logged in yet.
                session["pending_2fa"] = {
                    "t": int(time.time()),
                    "u": user.id,
                    "s": user.security_stamp,
                    "r": bool(form.remember.data),
                    "n": _next_or(url_for("account.dashboard")),
                }
                return redirect_to(url_for("account.login_twofactor"))
            else:
                return finish_login(user, remember=form.remember.data, next_url=_next_or(url_for("account.dashboard")))
    status = 422 if form.is_submitted() else 200
    return render_page("account/login.html", "account/_login_form.html", status, form=form, error=error)


def finish_login(user, *, remember: bool, next_url: str):
    """Both steps passed: open the session, remember where from, alert if asked."""
    log_in(user, remember=remember)
    record_sign_in(user)
    db.session.commit()
    return redirect_to(next_url)


@bp.post("/logout")
def logout():
    if current_user.is_authenticated and current_user.get_id().startswith("user:"):
        session_id = _current_session_id()
        if session_id is not None:
            end_sessions(current_user, only_id=session_id)
            db.session.commit()
    logout_user()
    session.clear()  # nothing of the old session survives, not even its CSRF token
    flash("You have been signed out.", "info")
    return redirect(url_for("account.login"))


@bp.route("/")
@client_login_required
def dashboard():
    from app.hosting.services import upcoming_renewals
    from app.invoices.services import unpaid_proformas

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


def _current_session_id() -> int | None:
    import sqlalchemy as sa

    from app.account.models import UserSession

    token = session.get("sid")
    return db.session.scalar(sa.select(UserSession.id).where(UserSession.token == token)) if token else None


# Routes of the account blueprint that live in their own modules.
from app.account import notifications, profile, security_views  # noqa: E402,F401
