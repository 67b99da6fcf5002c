"""Message templates (/admin/templates) and contacting a client from its profile
(/admin/clients/<id>/contact), by email or SMS, through the outbox."""

from __future__ import annotations

import sqlalchemy as sa
from flask import flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from app.admin.blueprint import bp
from app.admin.client_profile import client_or_404
from app.clients.models import UserStatus
from app.core.actors import request_actor
from app.core.form_actions import run_form_action
from app.core.forms import strip
from app.core.i18n import _, _l
from app.extensions import db
from app.notify.models import MessageChannel, MessageTemplate
from app.notify.services import PLACEHOLDERS, StaffMessage, save_template, send_staff_message

_CHANNELS = [
    SelectChoice(MessageChannel.EMAIL.value, _l("Email")),
    SelectChoice(MessageChannel.SMS.value, _l("SMS")),
    SelectChoice(MessageChannel.PORTAL.value, _l("Notice on their dashboard")),
]


class TemplateForm(FlaskForm):
    name = StringField(_l("Name"), filters=[strip], validators=[DataRequired(_l("Name the template.")), Length(max=80)])
    channel = SelectField(_l("Sent as"), choices=_CHANNELS)
    subject = StringField(_l("Subject (emails and notices)"), filters=[strip], validators=[Length(max=255)])
    body = TextAreaField(_l("Text"), validators=[DataRequired(_l("Write the text."))])


class ContactForm(FlaskForm):
    user_id = SelectField(_l("To"), coerce=int)
    channel = SelectField(_l("Send as"), choices=_CHANNELS)
    template_id = SelectField(_l("Template"), coerce=int)
    subject = StringField(_l("Subject"), filters=[strip], validators=[Length(max=255)])
    body = TextAreaField(_l("Message"), description=_l("Or choose a template above and leave this empty."))


@bp.route("/templates")
def message_templates():
    templates = db.session.scalars(sa.select(MessageTemplate).order_by(MessageTemplate.name)).all()
    return render_template("admin/message_templates.html", templates=templates)


def _template_page(form: TemplateForm, template: MessageTemplate | None, status: int = 200):
    return render_template(
        "admin/message_template.html", form=form, template=template, placeholders=PLACEHOLDERS
    ), status


def _save(form: TemplateForm, template: MessageTemplate | None):
    if form.validate_on_submit():
        result = run_form_action(
            form,
            lambda: save_template(
                template,
                name=form.name.data,
                channel=MessageChannel(form.channel.data),
                subject=form.subject.data or "",
                body=form.body.data,
                actor=request_actor(),
            ),
        )
        if result.ok:
            flash(_("Template “%(name)s” saved.", name=result.value.name), "success")
            return redirect(url_for("admin.message_templates"))
    return _template_page(form, template, 422)


@bp.route("/templates/new", methods=["GET", "POST"])
def message_template_new():
    form = TemplateForm()
    if form.is_submitted():
        return _save(form, None)
    return _template_page(form, None)


@bp.route("/templates/<int:template_id>", methods=["GET", "POST"])
def message_template_edit(template_id: int):
    template = db.get_or_404(MessageTemplate, template_id)
    form = TemplateForm(obj=template)
    if form.is_submitted():
        return _save(form, template)
    return _template_page(form, template)


def _contact_form(client) -> ContactForm:
    form = ContactForm()
    form.user_id.choices = [
        SelectChoice(
            user.id,
            _("%(name)s <%(email)s> (owner)", name=user.name, email=user.email)
            if user.is_owner
            else f"{user.name} <{user.email}>",
        )
        for user in client.users
        if user.status is UserStatus.ACTIVE
    ]
    templates = db.session.scalars(sa.select(MessageTemplate).order_by(MessageTemplate.name)).all()
    form.template_id.choices = [SelectChoice(0, _("No template: write below"))] + [
        SelectChoice(t.id, f"{t.name} ({t.channel.value})") for t in templates
    ]
    return form


@bp.route("/clients/<int:client_id>/contact", methods=["GET", "POST"])
def client_contact(client_id: int):
    client = client_or_404(client_id)
    form = _contact_form(client)
    status = 200
    if form.validate_on_submit():
        template = db.session.get(MessageTemplate, form.template_id.data) if form.template_id.data else None
        message = StaffMessage(
            MessageChannel(form.channel.data), template, subject=form.subject.data or "", body=form.body.data or ""
        )
        result = run_form_action(
            form, lambda: send_staff_message(client.id, form.user_id.data, message, actor=request_actor())
        )
        if result.ok:
            flash(_("Message queued: it is sent in a moment and listed under the Messages tab."), "success")
            return redirect(url_for("admin.client_tab", client_id=client.id, tab="messages"))
        status = 422
    elif form.is_submitted():
        status = 422
    return render_template("admin/client_contact.html", client=client, form=form, placeholders=PLACEHOLDERS), status
