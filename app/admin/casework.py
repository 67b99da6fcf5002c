"""The profile's casework actions: notes, files, queued invoice items, service groups
(each posted from its tab and answered with the tab again) and the invoice made by hand.

Each calls one app.casework service (which audits it) through run_form_action: a
refusal is shown beside its field with 422, nothing changed.
"""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for

from app.admin.blueprint import bp
from app.admin.casework_forms import (
    ButtonForm,
    FileForm,
    ManualInvoiceForm,
    MoveServiceForm,
    NoteForm,
    QueuedItemForm,
    ServiceGroupForm,
)
from app.admin.client_profile import _swaps_the_tabs, client_or_404, render_tab
from app.casework import services as casework
from app.casework.models import ClientFile, ClientNote
from app.core.actors import request_actor
from app.core.dates import today
from app.core.form_actions import AS_TOAST, run_form_action
from app.core.htmx import toast
from app.core.i18n import _
from app.core.rendering import redirect_to
from app.extensions import db
from app.hosting.models import Service, ServiceGroup
from app.invoices.models import QueuedItem


def _owned(model, client_id: int, row_id: int):
    """Row `row_id` of `model` belonging to client `client_id`, or a 404."""
    row = db.session.get(model, row_id)
    if row is None or row.client_id != client_id:
        abort(404)
    return row


def _answer(client, tab: str, result, done: str, *, form_name: str, form, unchanged: str | None = None):
    """The tab again: with a toast when the action went through, or with the form's errors (422)."""
    if result.ok:
        if unchanged is not None and not result.value:
            toast(unchanged, "info")
        else:
            toast(done, "success")
        if _swaps_the_tabs():
            return render_tab(client, tab)
        return redirect(url_for("admin.client_tab", client_id=client.id, tab=tab))
    return render_tab(client, tab, status=422, **{form_name: form})


def _invalid(client, tab: str, *, form_name: str, form):
    return render_tab(client, tab, status=422, **{form_name: form})


# --- notes --------------------------------------------------------------------------------


@bp.post("/clients/<int:client_id>/notes")
def client_note_add(client_id: int):
    client = client_or_404(client_id)
    form = NoteForm()
    if not form.validate_on_submit():
        return _invalid(client, "notes", form_name="note_form", form=form)
    result = run_form_action(
        form, lambda: casework.add_note(client.id, form.body.data, pinned=form.pinned.data, actor=request_actor())
    )
    return _answer(client, "notes", result, _("Note added."), form_name="note_form", form=form)


@bp.post("/clients/<int:client_id>/notes/<int:note_id>/edit")
def client_note_edit(client_id: int, note_id: int):
    client = client_or_404(client_id)
    note = _owned(ClientNote, client.id, note_id)
    form = NoteForm()
    if not form.validate_on_submit():
        return _invalid(client, "notes", form_name="edit_forms", form={note.id: form})
    result = run_form_action(
        form, lambda: casework.edit_note(note, form.body.data, actor=request_actor()), unplaced=AS_TOAST
    )
    return _answer(
        client,
        "notes",
        result,
        _("Note saved."),
        form_name="edit_forms",
        form={note.id: form},
        unchanged=_("Nothing changed."),
    )


@bp.post("/clients/<int:client_id>/notes/<int:note_id>/delete")
def client_note_delete(client_id: int, note_id: int):
    client = client_or_404(client_id)
    note = _owned(ClientNote, client.id, note_id)
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    result = run_form_action(form, lambda: casework.delete_note(note, actor=request_actor()), unplaced=AS_TOAST)
    return _answer(client, "notes", result, _("Note deleted."), form_name="note_form", form=None)


@bp.post("/clients/<int:client_id>/notes/<int:note_id>/pin")
def client_note_pin(client_id: int, note_id: int):
    client = client_or_404(client_id)
    note = _owned(ClientNote, client.id, note_id)
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    result = run_form_action(form, lambda: casework.set_note_pinned(note, form.on, actor=request_actor()))
    return _answer(
        client, "notes", result, _("Note pinned.") if form.on else _("Note unpinned."), form_name="note_form", form=None
    )


# --- files --------------------------------------------------------------------------------


@bp.post("/clients/<int:client_id>/files")
def client_file_upload(client_id: int):
    client = client_or_404(client_id)
    form = FileForm()
    if not form.validate_on_submit():
        return _invalid(client, "files", form_name="file_form", form=form)
    upload = request.files.get("file")
    result = run_form_action(
        form,
        lambda: casework.upload_file(
            client.id,
            upload.stream if upload else None,
            upload.filename if upload else "",
            content_type=upload.mimetype if upload else None,
            visible=form.client_visible.data,
            actor=request_actor(),
        ),
        unplaced="file",
    )
    return _answer(client, "files", result, _("File uploaded."), form_name="file_form", form=form)


@bp.route("/clients/<int:client_id>/files/<int:file_id>")
def client_file_download(client_id: int, file_id: int):
    return casework.send_client_file(_owned(ClientFile, client_or_404(client_id).id, file_id))


@bp.post("/clients/<int:client_id>/files/<int:file_id>/visibility")
def client_file_visibility(client_id: int, file_id: int):
    client = client_or_404(client_id)
    item = _owned(ClientFile, client.id, file_id)
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    result = run_form_action(form, lambda: casework.set_file_visibility(item, form.on, actor=request_actor()))
    done = _("The client can now see this file.") if form.on else _("The file is now for staff only.")
    return _answer(client, "files", result, done, form_name="file_form", form=None)


# --- queued invoice items -----------------------------------------------------------------


@bp.post("/clients/<int:client_id>/queued-items")
def queued_item_add(client_id: int):
    client = client_or_404(client_id)
    form = QueuedItemForm()
    if not form.validate_on_submit():
        return _invalid(client, "invoices", form_name="queued_form", form=form)
    result = run_form_action(
        form,
        lambda: casework.add_queued_item(
            client.id, form.description.data, form.amount_minor(client.currency), actor=request_actor()
        ),
    )
    done = _("Item queued for the next invoice.")
    return _answer(client, "invoices", result, done, form_name="queued_form", form=form)


@bp.post("/clients/<int:client_id>/queued-items/<int:item_id>/remove")
def queued_item_remove(client_id: int, item_id: int):
    client = client_or_404(client_id)
    item = _owned(QueuedItem, client.id, item_id)
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    result = run_form_action(form, lambda: casework.remove_queued_item(item, actor=request_actor()), unplaced=AS_TOAST)
    return _answer(client, "invoices", result, _("Queued item removed."), form_name="queued_form", form=None)


# --- service groups -----------------------------------------------------------------------


@bp.post("/clients/<int:client_id>/service-groups")
def service_group_create(client_id: int):
    client = client_or_404(client_id)
    form = ServiceGroupForm()
    if not form.validate_on_submit():
        return _invalid(client, "services", form_name="group_form", form=form)
    result = run_form_action(
        form, lambda: casework.create_service_group(client.id, form.name.data, actor=request_actor())
    )
    return _answer(client, "services", result, _("Group created."), form_name="group_form", form=form)


@bp.post("/clients/<int:client_id>/service-groups/<int:group_id>/rename")
def service_group_rename(client_id: int, group_id: int):
    client = client_or_404(client_id)
    group = _owned(ServiceGroup, client.id, group_id)
    form = ServiceGroupForm(prefix=f"group{group.id}")
    forms = {"rename_forms": {group.id: form}}
    if not form.validate_on_submit():
        return render_tab(client, "services", status=422, **forms)
    result = run_form_action(form, lambda: casework.rename_service_group(group, form.name.data, actor=request_actor()))
    return _answer(
        client,
        "services",
        result,
        _("Group renamed."),
        form_name="rename_forms",
        form={group.id: form},
        unchanged=_("Nothing changed."),
    )


@bp.post("/clients/<int:client_id>/service-groups/<int:group_id>/hide")
def service_group_hide(client_id: int, group_id: int):
    client = client_or_404(client_id)
    group = _owned(ServiceGroup, client.id, group_id)
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    result = run_form_action(form, lambda: casework.set_group_hidden(group, form.on, actor=request_actor()))
    done = (
        _("The group's name is left off the next invoices.")
        if form.on
        else _("The group's name is printed on the next invoices.")
    )
    return _answer(client, "services", result, done, form_name="group_form", form=None)


@bp.post("/clients/<int:client_id>/services/<int:service_id>/group")
def service_group_move(client_id: int, service_id: int):
    client = client_or_404(client_id)
    service = _owned(Service, client.id, service_id)
    form = MoveServiceForm(prefix=f"service{service.id}")
    forms = {"move_forms": {service.id: form}}
    if not form.validate_on_submit():
        return render_tab(client, "services", status=422, **forms)
    result = run_form_action(form, lambda: casework.move_service(service, form.target(), actor=request_actor()))
    return _answer(
        client,
        "services",
        result,
        _("Service moved."),
        form_name="move_forms",
        form={service.id: form},
        unchanged=_("Nothing changed."),
    )


# --- an invoice by hand -------------------------------------------------------------------


@bp.route("/clients/<int:client_id>/invoices/new", methods=["GET", "POST"])
def invoice_new(client_id: int):
    client = client_or_404(client_id)
    form = ManualInvoiceForm()
    if request.method == "GET":
        form.due_date.data = today()
    elif form.validate_on_submit():
        result = run_form_action(
            form,
            lambda: casework.create_manual_invoice(
                client, form.manual_lines(client.currency), due_date=form.due_date.data, actor=request_actor()
            ),
        )
        if result.ok:
            toast(_("Proforma %(number)s issued and emailed to the client.", number=result.value.number), "success")
            return redirect_to(url_for("admin.client_tab", client_id=client.id, tab="invoices"))
    status = 422 if request.method == "POST" else 200
    queued = casework.queued_items_of(client.id)
    return render_template("admin/invoice_new.html", client=client, form=form, queued=queued), status
