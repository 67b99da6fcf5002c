"""Notifications: the archive of every email sent to the account, and what to subscribe to.

Routes live on the account blueprint (imported at the end of views.py). The owner
reads every email of the client; a trusted user reads only the emails sent to them.
An email is shown as its text part: the stored HTML is made for mail clients (inline
styles the site's CSP forbids), and the text needs no sanitizing, only escaping.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask import abort, current_app, flash, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget

from app.account.models import User
from app.account.security import log_change
from app.account.views import bp
from app.core.auth import client_login_required
from app.core.rendering import redirect_to, render_page
from app.extensions import db
from app.notify import NOTIFICATION_TYPES
from app.notify.models import EmailMessage

#: Endpoints whose links carry a secret token. In the archive their token is
#: removed: a reset, invite or email-confirmation link is a way to take over an
#: account without the password (a link session is not fresh, and must not be able
#: to get one), and another user's login link would sign the reader in as them.
#: Only the reader's own login links to an invoice stay.
OWN_LINKS_KEPT = {"mail_login.open"}
REMOVED_LINK = "[personal link removed: open it from the email itself]"


class CheckboxesField(SelectMultipleField):
    """Several choices as checkboxes; a value outside the choices is an error on the field."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class NotificationSettingsForm(FlaskForm):
    notification_types = CheckboxesField(
        "Send me emails about", choices=[SelectChoice(key, label) for key, label in NOTIFICATION_TYPES.items()]
    )


def _me() -> User:
    return current_user._get_current_object()


def visible_messages() -> sa.Select:
    """The emails the current user may read: the owner all of the client's, a trusted user their own."""
    user = _me()
    query = sa.select(EmailMessage).where(EmailMessage.client_id == user.client_id)
    if not user.is_owner:
        query = query.where(EmailMessage.user_id == user.id)
    return query


def _token_links() -> list[tuple[str, re.Pattern]]:
    """(endpoint, pattern) of every absolute link whose path ends in a <token>."""
    links = []
    for rule in current_app.url_map.iter_rules():
        if "<token>" in rule.rule:
            prefix = rule.rule.split("<token>", 1)[0]
            links.append((rule.endpoint, re.compile(r"https?://[^\s/]+" + re.escape(prefix) + r"[\w.\-]+")))
    return links


def archived_text(message: EmailMessage, reader: User) -> str:
    """The text body as the archive shows it: secret links removed (see OWN_LINKS_KEPT)."""
    text = message.body_text
    for endpoint, pattern in _token_links():
        if endpoint in OWN_LINKS_KEPT and message.user_id == reader.id:
            continue
        text = pattern.sub(REMOVED_LINK, text)
    return text


def _list_page(form: NotificationSettingsForm, status: int = 200):
    query = visible_messages().order_by(EmailMessage.created_at.desc(), EmailMessage.id.desc())
    page = db.paginate(query, per_page=current_app.config.get("NOTIFICATIONS_PER_PAGE", 20), error_out=False)
    return render_page(
        "account/notifications.html",
        "account/_notifications_list.html",
        status,
        page=page,
        form=form,
    )


@bp.route("/account/notifications")
@client_login_required
def notifications():
    form = NotificationSettingsForm(formdata=None, notification_types=list(_me().notification_types or []))
    return _list_page(form)


@bp.post("/account/notifications/settings")
@client_login_required
def notifications_settings():
    form = NotificationSettingsForm()
    if form.validate_on_submit():
        user = _me()
        chosen = set(form.notification_types.data or [])
        old = [key for key in NOTIFICATION_TYPES if key in (user.notification_types or [])]
        new = [key for key in NOTIFICATION_TYPES if key in chosen]
        if new != old:
            log_change(user, "notification_types", ", ".join(old), ", ".join(new))
            user.notification_types = new
            db.session.commit()
            flash("Your email settings were saved.", "success")
        else:
            flash("Nothing changed.", "info")
        return redirect_to(url_for("account.notifications"))
    return _list_page(form, 422)


@bp.route("/account/notifications/<int:message_id>")
@client_login_required
def notifications_view(message_id: int):
    message = db.session.scalar(visible_messages().where(EmailMessage.id == message_id))
    if message is None:
        abort(404)
    return render_template("account/notification.html", message=message, body=archived_text(message, _me()))
