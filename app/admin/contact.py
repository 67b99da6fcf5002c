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
from app.extensions import db
from app.notify.models import MessageChannel, MessageTemplate
from app.notify.services import PLACEHOLDERS, StaffMessage, save_template, send_staff_message

_CHANNELS = [
    SelectChoice(MessageChannel.EMAIL.value, "Email"),
    SelectChoice(MessageChannel.SMS.value, "SMS"),
    SelectChoice(MessageChannel.PORTAL.value, "Notice on their dashboard"),
]


class TemplateForm(FlaskForm):
    name = StringField("Name", filters=[strip], validators=[DataRequired("Name the template."), Length(max=80)])
    channel = SelectField("Sent as", choices=_CHANNELS)
    subject = StringField("Subject (emails and notices)", filters=[strip], validators=[Length(max=255)])
    body = TextAreaField("Text", validators=[DataRequired("Write the text.")])


class ContactForm(FlaskForm):
    user_id = SelectField("To", coerce=int)
    channel = SelectField("Send as", choices=_CHANNELS)
    template_id = SelectField("Template", coerce=int)
    subject = StringField("Subject", filters=[strip], validators=[Length(max=255)])
    body = TextAreaField("Message", description="Or choose a template above and leave this empty.")


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
            flash(f"Template “{result.value.name}” saved.", "success")
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
        SelectChoice(user.id, f"{user.name} <{user.email}>" + (" (owner)" if user.is_owner else ""))
        for user in client.users
        if user.status is UserStatus.ACTIVE
    ]
    templates = db.session.scalars(sa.select(MessageTemplate).order_by(MessageTemplate.name)).all()
    form.template_id.choices = [SelectChoice(0, "No template: write below")] + [
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
            flash("Message queued: it is sent in a moment and listed under the Messages tab.", "success")
            return redirect(url_for("admin.client_tab", client_id=client.id, tab="messages"))
        status = 422
    elif form.is_submitted():
        status = 422
    return render_template("admin/client_contact.html", client=client, form=form, placeholders=PLACEHOLDERS), status
