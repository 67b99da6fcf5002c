"""The client's account lifecycle page (/admin/clients/<id>/lifecycle): close, archive,
reopen, anonymize, merge another client in, delete, and the GDPR details PDF.

Every action needs "close clients" and calls app.lifecycle.services (which audits it).
Anonymize, merge and delete cannot be undone: the form asks to type the client ID. Merge
and delete are four-eyes changes: the form submits a request (app.approvals) that a second
staff member approves on /admin/approvals; nothing moves before.
"""

from __future__ import annotations

import uuid

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, StringField
from wtforms.validators import DataRequired, InputRequired, Length
from wtforms.validators import ValidationError as FormError

from app.admin.blueprint import bp
from app.admin.client_profile import client_or_404
from app.approvals import services as approvals
from app.audit.services import record
from app.core.actors import request_actor
from app.core.form_actions import run_form_action
from app.core.htmx import toast
from app.core.i18n import _, _l
from app.core.pdf import render_pdf
from app.core.types import utcnow
from app.extensions import db
from app.lifecycle import services as lifecycle
from app.profile.services import account_data


class _Confirmed(FlaskForm):
    """A form for what cannot be undone: the client ID typed again."""

    confirm = StringField(
        _l("Type the client ID to confirm"), validators=[DataRequired(_l("Type the client ID to confirm."))]
    )

    def __init__(self, client_id: int, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.client_id = client_id

    def validate_confirm(self, field) -> None:
        if (field.data or "").strip() != str(self.client_id):
            raise FormError(_("Type %(id)s to confirm.", id=self.client_id))


class CloseForm(FlaskForm):
    terminate_services = BooleanField(_l("Terminate its services (pending orders are cancelled)"))
    cancel_proformas = BooleanField(_l("Cancel its unpaid proformas (part-paid ones stay)"))


class StatusForm(FlaskForm):
    """Archive or reopen: nothing but the CSRF token."""


class AnonymizeForm(_Confirmed):
    pass


class _FourEyes(_Confirmed):
    """A change a second staff member approves: why it is asked, and a one-time key made
    when the form is shown (a double submit asks once)."""

    reason = StringField(
        _l("Reason (the approver reads it)"),
        validators=[DataRequired(_l("Give a reason: the second staff member reads it.")), Length(max=255)],
    )
    key = HiddenField(validators=[DataRequired(_l("Reload the page and try again.")), Length(max=64)])

    def __init__(self, client_id: int, *args, **kwargs) -> None:
        super().__init__(client_id, *args, **kwargs)
        if not self.key.data:
            self.key.data = uuid.uuid4().hex


class MergeForm(_FourEyes):
    source_id = IntegerField(
        _l("Client ID to merge into this one"), validators=[InputRequired(_l("Enter the ID of the client to merge."))]
    )


class DeleteForm(_FourEyes):
    pass


def _forms(client_id: int, **given) -> dict:
    forms = {
        "close": CloseForm(formdata=None),
        "status": StatusForm(formdata=None),
        "anonymize": AnonymizeForm(client_id, formdata=None),
        "merge": MergeForm(client_id, formdata=None),
        "delete": DeleteForm(client_id, formdata=None),
    }
    return forms | given


def _live_client_or_redirect(client_id: int):
    """The client, or a redirect to where a merged client's tombstone leads."""
    client = client_or_404(client_id)
    if client.merged_into_id is not None:
        return None, redirect(url_for("admin.client_lifecycle", client_id=lifecycle.resolve_tombstone(client).id))
    return client, None


def _page(client, *, code: int = 200, **forms):
    return render_template(
        "admin/client_lifecycle.html",
        client=client,
        owner=client.owner,
        forms=_forms(client.id, **forms),
        merged=lifecycle.merged_sources(client.id),
        waiting=[
            *approvals.pending_for(client.id, lifecycle.MERGE_KIND),
            *approvals.pending_for(client.id, lifecycle.DELETE_KIND),
        ],
        kept_documents=lifecycle.tombstone_documents(client.id),
    ), code


def _done(client_id: int, message: str):
    toast(message, "success")
    return redirect(url_for("admin.client_lifecycle", client_id=client_id))


@bp.get("/clients/<int:client_id>/lifecycle")
def client_lifecycle(client_id: int):
    client, elsewhere = _live_client_or_redirect(client_id)
    return elsewhere or _page(client)


@bp.post("/clients/<int:client_id>/close")
def client_close(client_id: int):
    client = client_or_404(client_id)
    form = CloseForm()
    if form.validate_on_submit():
        result = run_form_action(
            form,
            lambda: lifecycle.close_client(
                client.id,
                actor=request_actor(),
                terminate_services=form.terminate_services.data,
                cancel_proformas=form.cancel_proformas.data,
            ),
        )
        if result.ok:
            ended, cancelled = len(result.value.services_ended), len(result.value.proformas_cancelled)
            message = _(
                "Account closed: %(ended)s service(s) ended, %(cancelled)s proforma(s) cancelled.",
                ended=ended,
                cancelled=cancelled,
            )
            return _done(client.id, message)
    return _page(client, code=422, close=form)


def _status_action(client_id: int, action, message: str):
    client = client_or_404(client_id)
    form = StatusForm()
    if form.validate_on_submit():
        result = run_form_action(form, lambda: action(client.id, actor=request_actor()))
        if result.ok:
            return _done(client.id, message)
    return _page(client, code=422, status=form)


@bp.post("/clients/<int:client_id>/archive")
def client_archive(client_id: int):
    return _status_action(client_id, lifecycle.archive_client, _("Account archived."))


@bp.post("/clients/<int:client_id>/reopen")
def client_reopen(client_id: int):
    return _status_action(client_id, lifecycle.reopen_client, _("Account reopened."))


@bp.post("/clients/<int:client_id>/anonymize")
def client_anonymize(client_id: int):
    client = client_or_404(client_id)
    form = AnonymizeForm(client.id)
    if form.validate_on_submit():
        result = run_form_action(form, lambda: lifecycle.anonymize_client(client.id, actor=request_actor()))
        if result.ok:
            return _done(client.id, _("Account anonymized."))
    return _page(client, code=422, anonymize=form)


def _asked(client_id: int, message: str):
    flash(message, "info")
    return redirect(url_for("admin.client_lifecycle", client_id=client_id))


@bp.post("/clients/<int:client_id>/merge")
def client_merge(client_id: int):
    client = client_or_404(client_id)
    form = MergeForm(client.id)
    if form.validate_on_submit():
        result = run_form_action(
            form,
            lambda: lifecycle.request_merge(
                form.source_id.data,
                client.id,
                reason=form.reason.data,
                key=f"{lifecycle.MERGE_KIND}:{form.key.data}",
                actor=request_actor(),
            ),
        )
        if result.ok:
            message = _(
                "Nothing changed yet: the merge of client #%(source)s waits for a second staff member with the "
                "\u201cclose clients\u201d privilege (approval request %(id)s, on the Approvals page).",
                source=form.source_id.data,
                id=result.value.id,
            )
            return _asked(client.id, message)
    return _page(client, code=422, merge=form)


@bp.post("/clients/<int:client_id>/delete")
def client_delete(client_id: int):
    client = client_or_404(client_id)
    form = DeleteForm(client.id)
    if form.validate_on_submit():
        result = run_form_action(
            form,
            lambda: lifecycle.request_delete(
                client.id,
                reason=form.reason.data,
                key=f"{lifecycle.DELETE_KIND}:{form.key.data}",
                actor=request_actor(),
            ),
        )
        if result.ok:
            message = _(
                "Nothing changed yet: the deletion waits for a second staff member with the "
                "\u201cclose clients\u201d privilege (approval request %(id)s, on the Approvals page).",
                id=result.value.id,
            )
            return _asked(client.id, message)
    return _page(client, code=422, delete=form)


@bp.get("/clients/<int:client_id>/gdpr.pdf")
def client_gdpr_pdf(client_id: int):
    """Everything stored about the client as a PDF (the client's own privacy export, for staff);
    asking for it is audited."""
    client = client_or_404(client_id)
    if client.merged_into_id is not None:
        abort(404)
    html = render_template(
        "pdf/privacy.html",
        data=account_data(client),
        client=client,
        exported_at=utcnow(),
        heading=_("Data held about client %(id)s", id=client.id),
        for_staff=True,
    )
    body = render_pdf(html)
    record(request_actor(), "client.gdpr_pdf", client_id=client.id, target=f"client:{client.id}")
    db.session.commit()
    return current_app.response_class(
        body,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="client-{client.id}-gdpr-details.pdf"',
            "Cache-Control": "no-store",
        },
    )
