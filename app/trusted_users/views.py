"""Routes of the trusted users area: the owner manages the extra people who may use the account.

Every route here but accept_invite is owner-only (app.access.policy). Changes need a
fresh login: a session restored from a remember-me cookie or opened by an email
link asks for the password again first. CSRFProtect checks every POST.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, render_template, request, url_for
from flask_login import current_user, fresh_login_required

from app.access.policy import PERMISSIONS
from app.clients.models import User, UserStatus
from app.core.errors import ValidationError
from app.core.form_actions import run_form_action
from app.core.i18n import _
from app.core.ratelimit import rate_limited
from app.core.rendering import redirect_to, render_page
from app.extensions import db
from app.security.services import ip_allowed, record_login
from app.security.signin import log_in
from app.trusted_users.forms import AcceptInviteForm, NewTrustedUserForm, TrustedUserForm
from app.trusted_users.services import (
    InvalidInvite,
    add_trusted_user,
    find_trusted_user,
    invite_max_age,
    invited_user,
    reactivate_trusted_user,
    remove_trusted_user,
    send_invite,
    suspend_trusted_user,
    trusted_users_of,
    update_trusted_user,
)
from app.trusted_users.services import accept_invite as accept_invite_token

bp = Blueprint("trusted_users", __name__)


def get_trusted_user_or_404(user_id: int) -> User:
    """A trusted user of the current client. Aborts 404 for anyone else, the owner included."""
    user = find_trusted_user(current_user.client_id, user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/trusted-users")
def index():
    users = trusted_users_of(current_user.client_id)
    return render_page("trusted_users/index.html", "trusted_users/_list.html", users=users, permissions=PERMISSIONS)


@bp.route("/trusted-users/new", methods=["GET", "POST"])
@fresh_login_required
def new():
    form = NewTrustedUserForm()
    if form.validate_on_submit():
        result = run_form_action(
            form,
            lambda: add_trusted_user(
                current_user.client, form.name.data, form.email.data, form.password.data, form.access()
            ),
            catch=ValidationError,
        )
        if result.ok:
            user = result.value
            if user.invited_at:
                done = _("An invitation was sent to %(email)s.", email=user.email)
            else:
                done = _("%(name)s can now sign in.", name=user.name)
            flash(done, "success")
            return redirect_to(url_for("trusted_users.index"))
    status = 422 if form.is_submitted() else 200
    days = invite_max_age() // 86400
    return render_page("trusted_users/new.html", "trusted_users/_new_form.html", status, form=form, invite_days=days)


@bp.route("/trusted-users/<int:user_id>/edit", methods=["GET", "POST"])
@fresh_login_required
def edit(user_id: int):
    user = get_trusted_user_or_404(user_id)
    form = TrustedUserForm(obj=user)
    if form.validate_on_submit():
        result = run_form_action(
            form, lambda: update_trusted_user(user, form.name.data, form.access()), catch=ValidationError
        )
        if result.ok:
            flash(_("%(name)s's access was saved.", name=user.name), "success")
            return redirect_to(url_for("trusted_users.index"))
    status = 422 if form.is_submitted() else 200
    return render_page("trusted_users/edit.html", "trusted_users/_edit_form.html", status, form=form, user=user)


def _done(message: str):
    """Commit the change, say what happened, and go back to the list."""
    db.session.commit()
    flash(message, "success")
    return redirect_to(url_for("trusted_users.index"))


@bp.post("/trusted-users/<int:user_id>/suspend")
@fresh_login_required
def suspend(user_id: int):
    user = get_trusted_user_or_404(user_id)
    suspend_trusted_user(user)
    return _done(_("%(name)s is suspended and was signed out.", name=user.name))


@bp.post("/trusted-users/<int:user_id>/reactivate")
@fresh_login_required
def reactivate(user_id: int):
    user = get_trusted_user_or_404(user_id)
    reactivate_trusted_user(user)
    return _done(_("%(name)s can sign in again.", name=user.name))


@bp.post("/trusted-users/<int:user_id>/resend-invite")
@fresh_login_required
@rate_limited()
def resend_invite(user_id: int):
    user = get_trusted_user_or_404(user_id)
    if user.invited_at is None or user.status is not UserStatus.ACTIVE:
        abort(404)
    send_invite(user)
    return _done(_("A new invitation was sent to %(email)s; the previous link no longer works.", email=user.email))


@bp.route("/trusted-users/<int:user_id>/remove", methods=["GET", "POST"])
@fresh_login_required
def remove(user_id: int):
    """GET asks for confirmation; POST removes."""
    user = get_trusted_user_or_404(user_id)
    if request.method == "GET":
        return render_template("trusted_users/remove.html", user=user)
    name = user.name
    remove_trusted_user(user)
    return _done(_("%(name)s was removed from your account.", name=name))


@bp.route("/trusted-users/invite/<token>", methods=["GET", "POST"])
@rate_limited()
def accept_invite(token: str):
    """Public: the invited person chooses a password and is signed in."""
    try:
        user = invited_user(token)
    except InvalidInvite as error:
        return _invite_refused(error)
    form = AcceptInviteForm()
    if form.validate_on_submit():
        try:
            user = accept_invite_token(token, form.password.data)
        except InvalidInvite as error:  # the same link was used a moment ago
            db.session.rollback()
            return _invite_refused(error)
        if user.has_2fa or not ip_allowed(user, request.remote_addr):
            # No way in skips 2FA or the IP allow-list: the password is set, now sign in.
            db.session.commit()
            flash(_("Your password is set. Please sign in."), "success")
            return redirect_to(url_for("auth.login"))
        record_login(user, request.remote_addr)
        log_in(user)  # records the session in this transaction
        db.session.commit()
        flash(_("Welcome, %(name)s! Your password is set.", name=user.name), "success")
        return redirect_to(url_for("dashboard.index"))
    status = 422 if form.is_submitted() else 200
    return render_page(
        "trusted_users/accept_invite.html", "trusted_users/_accept_form.html", status, form=form, user=user, token=token
    )


def _invite_refused(error: InvalidInvite):
    """The whole page with the reason: htmx is told to load it, there is no form left to fix."""
    if getattr(request, "htmx", None):
        return redirect_to(request.path)
    return render_template("trusted_users/accept_invite.html", error=error.message), error.status_code
