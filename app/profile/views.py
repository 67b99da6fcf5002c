"""My details (profile, billing, avatar) and privacy self-service (export, erasure)."""

from __future__ import annotations

import json

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, render_template, request, url_for
from flask_babel import refresh
from flask_login import current_user, fresh_login_required

from app.clients.models import User
from app.core.actors import request_actor
from app.core.errors import ValidationError
from app.core.form_actions import run_form_action
from app.core.i18n import _
from app.core.pdf import render_pdf
from app.core.rendering import redirect_to, render_page
from app.core.types import utcnow
from app.extensions import db
from app.profile.forms import LOCKED_NOTE, AvatarForm, DetailsForm, ErasureForm
from app.profile.services import (
    AVATAR_MAX_BYTES,
    account_data,
    current_details,
    json_default,
    open_erasure_request,
    request_erasure,
    set_avatar,
    update_details,
)

bp = Blueprint("profile", __name__)


def _me() -> User:
    return current_user._get_current_object()


def _has_avatar(user: User) -> bool:
    return bool(db.session.scalar(sa.select(User.avatar_png.is_not(None)).where(User.id == user.id)))


def _details_page(form: DetailsForm, avatar_form: AvatarForm, status: int = 200):
    user = _me()
    return render_page(
        "profile/details.html",
        "profile/_details_form.html",
        status,
        form=form,
        avatar_form=avatar_form,
        user=user,
        has_avatar=_has_avatar(user),
        locked_note=LOCKED_NOTE,
    )


def _details_form(**kwargs) -> DetailsForm:
    user = _me()
    return DetailsForm(
        data=current_details(user),
        locked=user.client.locked_fields or [],
        account_language=user.client.language,
        **kwargs,
    )


@bp.route("/account/details", methods=["GET", "POST"])
def details():
    form = _details_form()
    if form.validate_on_submit():
        # A refusal is shown beside the field it names (every one is a form field), else beside the name.
        saved = run_form_action(
            form,
            lambda: update_details(_me(), form.values(), actor=request_actor()),
            catch=ValidationError,
            unplaced="name",
        )
        if saved.ok:
            changes = saved.value
            refresh()  # a new interface language speaks from this message on
            flash(_("Your details were saved.") if changes else _("Nothing changed."), "success" if changes else "info")
            return redirect_to(url_for("profile.details"))
    status = 422 if form.is_submitted() else 200
    return _details_page(form, AvatarForm(formdata=None), status)


@bp.post("/account/avatar")
def avatar_upload():
    avatar_form = AvatarForm()
    if avatar_form.validate_on_submit():
        upload = request.files.get("avatar")
        data = upload.stream.read(AVATAR_MAX_BYTES + 1) if upload else b""
        saved = run_form_action(
            avatar_form,
            lambda: set_avatar(_me(), data, actor=request_actor()),
            catch=ValidationError,
            unplaced="avatar",
        )
        if saved.ok:
            flash(_("Your profile picture was updated."), "success")
            return redirect_to(url_for("profile.details"))
    return _details_page(_details_form(formdata=None), avatar_form, 422)  # this POST is not the details form


@bp.post("/account/avatar/delete")
def avatar_delete():
    if AvatarForm().validate_on_submit():
        set_avatar(_me(), None, actor=request_actor())
        db.session.commit()
        flash(_("Your profile picture was removed."), "info")
    return redirect_to(url_for("profile.details"))


@bp.get("/account/avatar")
def avatar():
    """The current user's avatar: a PNG we encoded ourselves, never sniffed as anything else."""
    png = db.session.scalar(sa.select(User.avatar_png).where(User.id == current_user.id))
    if not png:
        abort(404)
    response = current_app.response_class(png, mimetype="image/png")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    response.headers["Cache-Control"] = "private, no-cache"
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/account/privacy")
def privacy():
    return _privacy_page(ErasureForm(formdata=None))


def _privacy_page(form: ErasureForm, status: int = 200):
    return render_template(
        "profile/privacy.html", form=form, erasure=open_erasure_request(current_user.client_id)
    ), status


@bp.get("/account/privacy/export")
@fresh_login_required  # a session from an email link must confirm the password first
def privacy_export():
    """Everything stored about the account: JSON (default) or a readable PDF (?format=pdf)."""
    export_format = request.args.get("format", "json")
    if export_format not in {"json", "pdf"}:
        abort(404)
    client = current_user.client
    data = account_data(client)
    exported_at = utcnow()
    if export_format == "pdf":
        html = render_template("pdf/privacy.html", data=data, client=client, exported_at=exported_at)
        body, mimetype = render_pdf(html), "application/pdf"
    else:
        document = {"exported_at": exported_at, "format": "billfold-account-export/1", **data}
        body = json.dumps(document, indent=2, ensure_ascii=False, default=json_default)
        mimetype = "application/json"
    return current_app.response_class(
        body,
        mimetype=mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="account-{client.id}-data.{export_format}"',
            "Cache-Control": "no-store",
        },
    )


@bp.post("/account/privacy/erasure")
@fresh_login_required
def erasure_request():
    form = ErasureForm()
    if not form.validate_on_submit():
        return _privacy_page(form, 422)
    request_erasure(_me(), form.reason.data)  # while one is open, that one stands
    db.session.commit()
    return redirect_to(url_for("profile.privacy"))  # the page shows the open request
