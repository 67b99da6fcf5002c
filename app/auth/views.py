"""Sign-up, login (with its second step), logout, password reset, and the /l/ links in emails."""

from __future__ import annotations

import time

import sqlalchemy as sa
from flask import Blueprint, flash, make_response, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user

from app.auth.forms import (
    ConfirmSignUpForm,
    ForgotPasswordForm,
    LoginForm,
    RegisterForm,
    ResetPasswordForm,
    SwitchAccountForm,
)
from app.auth.services import SignUp, authenticate, register_client
from app.auth.signup import request_password_reset, request_sign_up, sign_up_from_token
from app.clients.models import ClientKind, User
from app.clients.services import find_user_by_email, normalize_email
from app.core.actors import request_actor
from app.core.errors import InvalidCredentials, ValidationError
from app.core.form_actions import run_form_action
from app.core.forms import CodeForm
from app.core.i18n import LANGUAGES, _, current_language
from app.core.i18n import SESSION_KEY as LANGUAGE_SESSION_KEY
from app.core.ratelimit import rate_limited
from app.core.rendering import redirect_to, render_page
from app.core.signing import InvalidToken
from app.core.urls import is_safe_next
from app.extensions import db
from app.notify.services import read_invoice_login
from app.security import services as sec
from app.security.models import UserSession
from app.security.services import end_current_session, end_sessions, ip_allowed, record_sign_in, refuse_blocked_sign_in
from app.security.signin import log_in

bp = Blueprint("auth", __name__)


def _next_or(default: str) -> str:
    target = request.args.get("next")
    return target if is_safe_next(target) else default


@bp.route("/register", methods=["GET", "POST"])
@rate_limited()
def register():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
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
            language=current_language(),
        )
        # The same answer and the same work for an address with an account and one
        # without: a job sends the confirmation link, or tells the owner someone tried.
        request_sign_up(data)
        session["signup_sent_to"] = normalize_email(data.email)
        return redirect_to(url_for("auth.register_sent"))
    status = 422 if form.is_submitted() else 200
    return render_page("auth/register.html", "auth/_register_form.html", status, form=form)


@bp.get("/register/sent")
def register_sent():
    return render_template("auth/register_sent.html", address=session.get("signup_sent_to"))


@bp.route("/register/confirm/<token>", methods=["GET", "POST"])
@rate_limited()
def register_confirm(token: str):
    """The link from the confirmation email: GET asks (a link scanner opening it
    creates nothing), POST creates the account and signs the new owner in."""
    try:
        data = sign_up_from_token(token)
    except InvalidToken as error:
        flash(
            _("This sign-up link has expired. Sign up again.") if error.expired else _("This link is invalid."), "error"
        )
        return redirect(url_for("auth.register"))
    if find_user_by_email(data.email) is not None:
        flash(_("This address already has an account: sign in (or reset your password)."), "info")
        return redirect(url_for("auth.login"))
    form = ConfirmSignUpForm()
    if not form.validate_on_submit():
        return render_template("auth/register_confirm.html", form=form, data=data)
    result = run_form_action(form, lambda: _register_and_sign_in(data), catch=ValidationError)
    if not result.ok:  # the same address confirmed twice at once
        flash(_("This address already has an account: sign in (or reset your password)."), "info")
        return redirect(url_for("auth.login"))
    flash(_("Welcome! Your client ID is %(id)s.", id=result.value.client_id), "success")
    return redirect_to(url_for("dashboard.index"))


def _register_and_sign_in(data: SignUp) -> User:
    user = register_client(data)
    log_in(user)  # whoever this browser had signed in is signed out
    return user


@bp.route("/login", methods=["GET", "POST"])
@rate_limited(per_account=True)
def login():
    if current_user.is_authenticated:
        return redirect(_next_or(url_for("dashboard.index")))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            user = authenticate(form.email.data, form.password.data)
        except InvalidCredentials as exc:
            error = exc.message
        else:
            if ip_allowed(user, request.remote_addr):
                return _second_step_or_sign_in(user, form)
            # Recorded, and the user is told by email; the same answer as a wrong
            # password: a blocked address learns nothing.
            refuse_blocked_sign_in(user, actor=request_actor(for_user=user))
            db.session.commit()
            error = InvalidCredentials().message
    status = 422 if form.is_submitted() else 200
    return render_page("auth/login.html", "auth/_login_form.html", status, form=form, error=error)


def _second_step_or_sign_in(user: User, form: LoginForm):
    """Password right: where 2FA is on the second step decides (nothing is signed in
    yet), else the user is signed in."""
    next_url = _next_or(url_for("dashboard.index"))
    if not user.has_2fa:
        return finish_login(user, remember=form.remember.data, next_url=next_url)
    session["pending_2fa"] = {
        "t": int(time.time()),
        "u": user.id,
        "s": user.security_stamp,
        "r": bool(form.remember.data),
        "n": next_url,
    }
    return redirect_to(url_for("auth.login_twofactor"))


def finish_login(user, *, remember: bool, next_url: str):
    """Both steps passed: open the session, remember where from, alert if asked."""
    log_in(user, remember=remember)
    record_sign_in(user, actor=request_actor(for_user=user))
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
    flash(_("You have been signed out."), "info")
    return redirect(url_for("auth.login"))


#: How long the password step is good for while the second factor is asked.
PENDING_2FA_SECONDS = 300


@bp.route("/login/2fa", methods=["GET", "POST"])
@rate_limited(per_account=True)
def login_twofactor():
    pending = session.get("pending_2fa")
    user = db.session.get(User, pending["u"]) if isinstance(pending, dict) else None
    expired = not isinstance(pending, dict) or time.time() - pending.get("t", 0) > PENDING_2FA_SECONDS
    if user is None or expired or user.security_stamp != pending.get("s") or not user.is_active:
        session.pop("pending_2fa", None)
        flash(_("Please sign in again."), "info")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    if form.validate_on_submit():
        # A wrong code is committed too: the replay counter keeps what moved.
        verified = run_form_action(
            form, lambda: sec.verify_second_factor(user.id, form.code.data), catch=ValidationError, keep_on_error=True
        )
        if verified.ok:
            if verified.value.method == "recovery":
                flash(_("You used a recovery code. Each works once: make new ones under Security."), "info")
            return finish_login(user, remember=pending.get("r", False), next_url=pending.get("n") or "/")
        sec.record_login_event(user, succeeded=False, reason="2fa code", actor=request_actor(for_user=user))
        db.session.commit()
    status = 422 if form.is_submitted() else 200
    return render_template("auth/login_2fa.html", form=form), status


@bp.route("/forgot-password", methods=["GET", "POST"])
@rate_limited(per_account=True)
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        # The same answer, and the same work here, whether or not the address has an
        # account: a job looks it up and writes the email (app.auth.signup).
        request_password_reset(form.email.data)
        flash(_("If an account uses this address, we sent it a link to choose a new password."), "info")
        return redirect_to(url_for("auth.login"))
    status = 422 if form.is_submitted() else 200
    return render_template("auth/forgot_password.html", form=form), status


@bp.route("/reset/<token>", methods=["GET", "POST"])
@rate_limited()
def reset_password(token: str):
    try:
        sec.user_for_reset_token(token)
    except InvalidToken:
        flash(_("This reset link is invalid, was already used, or has expired. Ask for a new one."), "error")
        return redirect(url_for("auth.forgot_password"))
    form = ResetPasswordForm()
    if (
        form.validate_on_submit()
        and run_form_action(
            form,
            lambda: sec.reset_password(token, form.new_password.data, actor=request_actor()),
            catch=ValidationError,
        ).ok
    ):
        # Not logged in here: the login page still asks for 2FA where it is on.
        flash(_("Your password was changed. Sign in with the new one."), "success")
        return redirect(url_for("auth.login"))
    status = 422 if form.is_submitted() else 200
    return render_template("auth/reset_password.html", form=form), status


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
def mail_link(token: str):
    """Valid link: a non-fresh session (viewing and paying work; password, email,
    2FA, IP list and trusted users ask for the password) and a redirect, so the
    token leaves the address bar. 2FA or a disallowed IP: the login page with the
    invoice as `next`. Expired, forged or void: the login page with a message.
    Someone else signed in on this browser: a question first, never a silent switch
    (a link of another account would be a login CSRF)."""
    try:
        user, invoice = read_invoice_login(token)
    except InvalidToken as error:
        expired = _("This link has expired. Sign in to see your invoice.")
        flash(expired if error.expired else _("This link is not valid (any more). Please sign in."), "error")
        return _no_referrer(redirect(url_for("auth.login")))
    target = url_for("invoices.view", number=invoice.number)
    if current_user.is_authenticated:
        if current_user.get_id() == user.get_id():
            return _no_referrer(redirect(target))
        form = SwitchAccountForm()
        if not form.validate_on_submit():
            return _switch_question(form, user, invoice)
        _sign_out_this_browser()
    return _no_referrer(_sign_in_from_link(user, target))


def _sign_in_from_link(user: User, target: str):
    """A non-fresh session and the invoice; where 2FA is on or the address is not
    allowed, the login page with the invoice as `next`."""
    if user.has_2fa or not ip_allowed(user, request.remote_addr):
        db.session.commit()  # a session signed out above stays ended
        flash(_("Please sign in to see this invoice."), "info")
        return redirect(url_for("auth.login", next=target))
    log_in(user, remember=False, fresh=False)
    record_sign_in(user, method="email link", actor=request_actor(for_user=user))
    db.session.commit()
    return redirect(target)


def _switch_question(form: SwitchAccountForm, user, invoice):
    """Who is signed in, whose link this is, and the choice."""
    staff = current_user.get_id().startswith("staff:")
    html = render_template(
        "auth/link_switch.html",
        form=form,
        signed_in=current_user,
        link_user=user,
        link_email=mask_email(user.email),
        invoice=invoice,
        stay_url=url_for("admin.index" if staff else "dashboard.index"),
    )
    return _no_referrer(make_response(html, 200))


def _sign_out_this_browser() -> None:
    """The user chose to switch: end this browser's session as logout does."""
    if current_user.get_id().startswith("user:"):
        end_current_session(current_user)
    logout_user()
    session.clear()


def _current_session_id() -> int | None:

    token = session.get("sid")
    return db.session.scalar(sa.select(UserSession.id).where(UserSession.token == token)) if token else None


@bp.post("/language")
def set_language():
    """The login page's language switcher: the choice holds until a signed-in user's own."""
    code = request.form.get("language", "")
    if code in LANGUAGES:
        session[LANGUAGE_SESSION_KEY] = code
    target = request.form.get("next")
    return redirect(target if is_safe_next(target) else url_for("auth.login"))
