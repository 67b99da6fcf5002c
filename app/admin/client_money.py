"""The balance actions on a client's profile: edit credit, add credit (each waiting for a
second staff member above the four-eyes threshold) and the account statement download.
The rules are the wallet's (app/wallet/services.py); these views only read the forms."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from app.admin.blueprint import bp
from app.admin.client_profile import client_or_404
from app.admin.money_forms import AddCreditForm, AdjustCreditForm
from app.clients.models import Client
from app.core.actors import request_actor
from app.core.form_actions import run_form_action
from app.core.i18n import _
from app.core.money import format_money
from app.wallet.services import ManualCredit, StaffMoneyAction, request_add_credit, request_adjustment
from app.wallet.statements import statement_download, statement_period


def _back_to_transactions(client: Client, action: StaffMoneyAction, done: str):
    if action.waiting:
        flash(
            _(
                "Nothing moved yet: the change is waiting for a second staff member (approval request %(id)s).",
                id=action.approval.id,
            ),
            "info",
        )
    else:
        balance = format_money(client.balance_minor, client.currency)
        flash(_("%(done)s The balance is now %(balance)s.", done=done, balance=balance), "success")
    return redirect(url_for("admin.client_tab", client_id=client.id, tab="transactions"))


def _form_page(template: str, client: Client, form):
    if not form.is_submitted():
        form.fresh_key()
    status = 422 if form.is_submitted() else 200
    return render_template(template, client=client, owner=client.owner, form=form), status


@bp.route("/clients/<int:client_id>/credit/adjust", methods=["GET", "POST"])
def credit_adjust(client_id: int):
    client = client_or_404(client_id)
    form = AdjustCreditForm()
    if form.validate_on_submit():
        result = run_form_action(
            form,
            lambda: request_adjustment(
                client.id,
                form.amount_minor(client.currency),
                reason=form.reason.data,
                key=f"{client.id}:{form.key.data}",
                actor=request_actor(),
            ),
        )
        if result.ok:
            return _back_to_transactions(client, result.value, _("Balance adjusted."))
    return _form_page("admin/credit_adjust.html", client, form)


@bp.route("/clients/<int:client_id>/credit/add", methods=["GET", "POST"])
def credit_add(client_id: int):
    client = client_or_404(client_id)
    form = AddCreditForm()
    if form.validate_on_submit():
        result = run_form_action(
            form,
            lambda: request_add_credit(
                client.id,
                ManualCredit(
                    amount_minor=form.amount_minor(client.currency),
                    method=form.method.data,
                    reference=form.reference.data,
                    proforma_number=form.proforma.data or "",
                    note=form.note.data or "",
                ),
                key=f"{client.id}:{form.key.data}",
                actor=request_actor(),
            ),
        )
        if result.ok:
            done = _("Payment recorded and credited.")
            if form.proforma.data:
                done = _(
                    "Payment recorded and credited. Proforma %(number)s was paid from it.", number=form.proforma.data
                )
            return _back_to_transactions(client, result.value, done)
    return _form_page("admin/credit_add.html", client, form)


@bp.route("/clients/<int:client_id>/statement")
def client_statement(client_id: int):
    """The client's account statement, the same document they download (PDF unless format=csv)."""
    client = client_or_404(client_id)
    _period, result = statement_period(client, request.args)
    return statement_download(client, result, "csv" if request.args.get("format") == "csv" else "pdf")
