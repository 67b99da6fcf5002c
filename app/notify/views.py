"""The notifications archive (/account/notifications): the emails and SMS sent to the reader, and subscriptions."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, render_template, request, url_for

from app.clients.services import log_change
from app.core.actors import request_actor
from app.core.i18n import _
from app.core.rendering import redirect_to, render_page
from app.extensions import db
from app.notify import NOTIFICATION_TYPES
from app.notify.archive import (
    REMOVED_LINK,
    ArchivePage,
    Cursor,
    _me,
    archive_page,
    archived_html,
    archived_text,
    visible_messages,
)
from app.notify.forms import ArchiveFilterForm, NotificationSettingsForm
from app.notify.models import EmailMessage

bp = Blueprint("notify", __name__)


def _list_page(form: NotificationSettingsForm, status: int = 200):
    filters = ArchiveFilterForm(request.args)
    if filters.validate():
        page = archive_page(
            filters,
            before=Cursor.parse(request.args.get("before")),
            after=Cursor.parse(request.args.get("after")),
            per_page=current_app.config.get("NOTIFICATIONS_PER_PAGE", 20),
        )
    else:
        page = ArchivePage([], None, None)
    params = {
        k: v
        for k, v in (
            ("type", filters.type.data),
            ("since", request.args.get("since")),
            ("until", request.args.get("until")),
        )
        if v
    }
    return render_page(
        "notify/index.html",
        "notify/_list.html",
        status,
        page=page,
        filters=filters,
        params=params,
        form=form,
    )


@bp.route("/account/notifications")
def index():
    form = NotificationSettingsForm(formdata=None, notification_types=list(_me().notification_types or []))
    return _list_page(form)


@bp.post("/account/notifications/settings")
def settings():
    form = NotificationSettingsForm()
    if form.validate_on_submit():
        user = _me()
        chosen = set(form.notification_types.data or [])
        old = [key for key in NOTIFICATION_TYPES if key in (user.notification_types or [])]
        new = [key for key in NOTIFICATION_TYPES if key in chosen]
        if new != old:
            log_change(user, "notification_types", ", ".join(old), ", ".join(new), actor=request_actor())
            user.notification_types = new
            db.session.commit()
            flash(_("Your email settings were saved."), "success")
        else:
            flash(_("Nothing changed."), "info")
        return redirect_to(url_for("notify.index"))
    return _list_page(form, 422)


@bp.route("/account/notifications/<int:message_id>")
def message(message_id: int):
    message = db.session.scalar(visible_messages().where(EmailMessage.id == message_id))
    if message is None:
        abort(404)
    reader = _me()
    return render_template(
        "notify/message.html",
        message=message,
        body=archived_text(message, reader),
        html=archived_html(message, reader),
        removed=REMOVED_LINK,
    )
