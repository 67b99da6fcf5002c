"""Staff management (the list, invitations, editing, roles) and each staff member's own account.

The rules (the last staff manager, invite links bound to the security stamp) live in
app.staff.services; these views read the request, call them and render the answer.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from app.admin import paging
from app.admin.blueprint import bp
from app.admin.sign_in import password_step_passed
from app.admin.staff_forms import (
    AcceptStaffInviteForm,
    ActionForm,
    InviteStaffForm,
    RecoveryCodesForm,
    RoleForm,
    StaffForm,
    StaffPasswordForm,
)
from app.core.actors import request_actor
from app.core.errors import DomainError, ValidationError
from app.core.form_actions import run_form_action
from app.core.i18n import _
from app.core.ratelimit import rate_limited
from app.core.urls import external_url
from app.extensions import db
from app.notify.services import queue_staff_email
from app.security.signin import log_in
from app.staff import services as staff_services
from app.staff.models import Staff, StaffRole
from app.staff.privileges import MANAGE_STAFF, PRIVILEGES


def _email_invite(staff: Staff, token: str) -> None:
    """Queue the invite email (sent after the commit)."""
    queue_staff_email(
        "staff_invite",
        to=staff,
        inviter=current_user,
        accept_url=external_url("admin.accept_invite", token=token),
        valid_days=max(1, staff_services.invite_max_age() // 86400),
    )


# --- the staff list and invitations ---------------------------------------------------------------


@bp.route("/staff")
def staff():
    """The staff by name, a keyset page at a time (`?after=`), each with their roles."""
    members = paging.keyset_page(
        sa.select(Staff).options(selectinload(Staff.roles)),
        [Staff.name, Staff.id],
        after=request.args.get("after", ""),
        size=paging.STAFF_PAGE,
        key_of=lambda member: [member.name, member.id],
        types=[str, int],
    )
    return render_template(
        "admin/staff.html",
        members=members.rows,
        next_url=url_for("admin.staff", after=members.after) if members.after else None,
        pending=staff_services.is_pending_invite,
        action=ActionForm(),
    )


@bp.route("/staff/invite", methods=["GET", "POST"])
@rate_limited()
def staff_invite():
    form = InviteStaffForm().with_roles(staff_services.all_roles())
    if form.validate_on_submit():

        def invite() -> Staff:
            member, token = staff_services.invite_staff(
                form.name.data, form.email.data, form.roles.data or [], actor=request_actor()
            )
            _email_invite(member, token)
            return member

        result = run_form_action(form, invite, catch=ValidationError)
        if result.ok:
            flash(_("An invitation was sent to %(email)s.", email=result.value.email), "success")
            return redirect(url_for("admin.staff"))
    status = 422 if form.is_submitted() else 200
    days = staff_services.invite_max_age() // 86400
    return render_template("admin/staff_invite.html", form=form, invite_days=days), status


def _staff_or_404(staff_id: int) -> Staff:
    return db.get_or_404(Staff, staff_id)


def _edit_page(member: Staff, form: StaffForm | None = None, action: ActionForm | None = None, status: int = 200):
    if form is None:
        form = StaffForm(obj=member, formdata=None).with_roles(staff_services.all_roles())
        form.roles.data = [role.id for role in member.roles]
    return render_template(
        "admin/staff_edit.html",
        member=member,
        form=form,
        action=action or ActionForm(formdata=None),
        pending=staff_services.is_pending_invite(member),
        sign_ins=staff_services.recent_sign_ins(member, limit=10),
    ), status


@bp.route("/staff/<int:staff_id>", methods=["GET", "POST"])
def staff_edit(staff_id: int):
    member = _staff_or_404(staff_id)
    if request.method == "GET":
        return _edit_page(member)
    form = StaffForm().with_roles(staff_services.all_roles())
    if form.validate_on_submit():
        result = run_form_action(
            form,
            lambda: staff_services.update_staff(member, form.name.data, form.roles.data or [], actor=request_actor()),
            catch=ValidationError,
        )
        if result.ok:
            flash(_("%(name)s: saved.", name=member.name) if result.value else _("Nothing changed."), "success")
            if not current_user.has_privilege(MANAGE_STAFF):  # one's own roles changed: no way back here
                return redirect(url_for("admin.account"))
            return redirect(url_for("admin.staff_edit", staff_id=member.id))
    return _edit_page(member, form=form, status=422)


def _staff_action(staff_id: int, change, done):
    """A button on the edit page: run `change(member, actor=...)`; a refusal is shown on the page (422).
    `done(member)` is the message once it went through."""
    member = _staff_or_404(staff_id)
    action = ActionForm()
    if not action.validate_on_submit():
        abort(400)
    result = run_form_action(action, lambda: change(member, actor=request_actor()), catch=DomainError)
    if not result.ok:
        return _edit_page(db.session.get(Staff, staff_id), action=action, status=422)
    flash(done(member), "success")
    return redirect(url_for("admin.staff_edit", staff_id=member.id))


@bp.post("/staff/<int:staff_id>/deactivate")
def staff_deactivate(staff_id: int):
    return _staff_action(
        staff_id,
        staff_services.deactivate_staff,
        lambda member: _("%(name)s is deactivated and was signed out everywhere.", name=member.name),
    )


@bp.post("/staff/<int:staff_id>/reactivate")
def staff_reactivate(staff_id: int):
    return _staff_action(
        staff_id, staff_services.reactivate_staff, lambda member: _("%(name)s can sign in again.", name=member.name)
    )


@bp.post("/staff/<int:staff_id>/reset-2fa")
@rate_limited()
def staff_reset_2fa(staff_id: int):
    return _staff_action(
        staff_id,
        staff_services.reset_staff_2fa,
        lambda member: _(
            "%(name)s's two-factor sign-in was reset: they were signed out and set it up again at their next sign-in.",
            name=member.name,
        ),
    )


@bp.post("/staff/<int:staff_id>/resend-invite")
@rate_limited()
def staff_resend_invite(staff_id: int):
    def resend(member: Staff, *, actor) -> None:
        _email_invite(member, staff_services.resend_staff_invite(member, actor=actor))

    return _staff_action(
        staff_id,
        resend,
        lambda member: _(
            "A new invitation was sent to %(email)s; the previous link no longer works.", email=member.email
        ),
    )


# --- accepting an invitation (public) ------------------------------------------------------------


@bp.route("/invite/<token>", methods=["GET", "POST"])
@rate_limited()
def accept_invite(token: str):
    """The invited person chooses a password, then sets up their second factor."""
    try:
        member = staff_services.invited_staff(token)
    except staff_services.InvalidStaffInvite as error:
        return render_template("admin/accept_invite.html", error=error.message), error.status_code
    form = AcceptStaffInviteForm()
    if form.validate_on_submit():
        result = run_form_action(
            form,
            lambda: staff_services.accept_staff_invite(token, form.password.data, ip=request.remote_addr),
            catch=ValidationError,
        )
        if result.ok:
            response = password_step_passed(result.value, method="password")
            flash(_("Your password is set."), "success")  # after: signing in starts a new session
            return response
    status = 422 if form.is_submitted() else 200
    return render_template("admin/accept_invite.html", form=form, member=member, token=token), status


# --- roles ---------------------------------------------------------------------------------------


@bp.route("/roles")
def roles():
    return render_template(
        "admin/roles.html",
        roles=staff_services.all_roles(),
        counts=staff_services.role_member_counts(),
        labels=PRIVILEGES,
    )


@bp.route("/roles/new", methods=["GET", "POST"])
def role_new():
    form = RoleForm()
    if form.validate_on_submit():
        result = run_form_action(
            form,
            lambda: staff_services.create_role(form.name.data, form.privileges.data or [], actor=request_actor()),
            catch=ValidationError,
        )
        if result.ok:
            flash(_("The role %(name)s was created.", name=result.value.name), "success")
            return redirect(url_for("admin.roles"))
    status = 422 if form.is_submitted() else 200
    return render_template("admin/role_form.html", form=form, role=None), status


@bp.route("/roles/<int:role_id>", methods=["GET", "POST"])
def role_edit(role_id: int):
    role = db.get_or_404(StaffRole, role_id)
    form = RoleForm(obj=role)
    if form.validate_on_submit():
        result = run_form_action(
            form,
            lambda: staff_services.update_role(role, form.name.data, form.privileges.data or [], actor=request_actor()),
            catch=ValidationError,
        )
        if result.ok:
            flash(_("The role %(name)s was saved.", name=role.name), "success")
            return redirect(url_for("admin.roles"))
        role = db.session.get(StaffRole, role_id)
    status = 422 if form.is_submitted() else 200
    return render_template("admin/role_form.html", form=form, role=role, delete=ActionForm(formdata=None)), status


@bp.post("/roles/<int:role_id>/delete")
def role_delete(role_id: int):
    role = db.get_or_404(StaffRole, role_id)
    delete = ActionForm()
    if not delete.validate_on_submit():
        abort(400)
    name = role.name
    result = run_form_action(delete, lambda: staff_services.delete_role(role, actor=request_actor()))
    if result.ok:
        flash(_("The role %(name)s was deleted.", name=name), "success")
        return redirect(url_for("admin.roles"))
    role = db.session.get(StaffRole, role_id)
    form = RoleForm(obj=role, formdata=None)
    return render_template("admin/role_form.html", form=form, role=role, delete=delete), 422


# --- one's own account ---------------------------------------------------------------------------


def _account_page(status: int = 200, **forms):
    me = current_user._get_current_object()
    return render_template(
        "admin/account.html",
        me=me,
        labels=PRIVILEGES,
        sign_ins=staff_services.recent_sign_ins(me),
        password_form=forms.get("password_form") or StaffPasswordForm(formdata=None),
        codes_form=forms.get("codes_form") or RecoveryCodesForm(formdata=None),
        codes=forms.get("codes"),
    ), status


@bp.route("/account")
def account():
    return _account_page()


@bp.post("/account/password")
@rate_limited(per_account=True)
def account_password():
    form = StaffPasswordForm()
    if form.validate_on_submit():
        me = current_user._get_current_object()

        def change() -> None:
            staff_services.change_staff_password(
                me, form.current_password.data, form.new_password.data, actor=request_actor()
            )
            log_in(me)  # the stamp rotated: this browser signs in again under the new one

        if run_form_action(form, change, catch=ValidationError).ok:
            flash(_("Your password was changed. Other sessions were signed out."), "success")
            return redirect(url_for("admin.account"))
    return _account_page(422, password_form=form)


@bp.post("/account/recovery-codes")
@rate_limited(per_account=True)
def account_recovery_codes():
    form = RecoveryCodesForm()
    if form.validate_on_submit():
        me = current_user._get_current_object()
        result = run_form_action(
            form,
            lambda: staff_services.regenerate_staff_recovery_codes(me, form.code.data, actor=request_actor()),
            catch=ValidationError,
            keep_on_error=False,
        )
        if result.ok:
            return _account_page(codes=result.value)
    return _account_page(422, codes_form=form)
