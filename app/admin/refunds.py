"""Refunds of a client's payments and credit notes of a tax invoice, from the client's profile."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for

from app.admin.blueprint import bp
from app.admin.client_profile import client_or_404
from app.admin.refund_forms import CreditNoteForm, RefundForm
from app.core.actors import request_actor
from app.core.form_actions import run_form_action
from app.core.i18n import _
from app.core.money import format_money, to_decimal
from app.extensions import db
from app.invoices.models import DocumentKind
from app.invoices.services import client_invoice, credit_left, credit_notes_of, issue_credit_note
from app.wallet.models import Payment, PaymentDirection, PaymentStatus
from app.wallet.services import paid_tax_invoice, refund_destinations, refunded_minor, request_refund


def _incoming_payment_or_404(client_id: int, payment_id: int) -> Payment:
    payment = db.session.scalar(
        sa.select(Payment).where(
            Payment.id == payment_id, Payment.client_id == client_id, Payment.direction == PaymentDirection.IN
        )
    )
    if payment is None:
        abort(404)
    return payment


@bp.route("/clients/<int:client_id>/payments/<int:payment_id>/refund", methods=["GET", "POST"])
def payment_refund(client_id: int, payment_id: int):
    client = client_or_404(client_id)
    payment = _incoming_payment_or_404(client.id, payment_id)
    left = payment.amount_minor - refunded_minor([payment.id]).get(payment.id, 0)
    destinations = refund_destinations(payment)
    form = RefundForm(destinations, amount=str(to_decimal(max(left, 0), payment.currency)))
    if form.validate_on_submit():
        # Above the four-eyes threshold the refund waits for a second staff member.
        result = run_form_action(
            form,
            lambda: request_refund(
                payment.id,
                amount_minor=form.amount_minor(payment.currency),
                to=form.to.data,
                reason=form.reason.data,
                key=form.key.data,
                actor=request_actor(),
            ),
        )
        if result.ok:
            if result.value.waiting:
                flash(
                    _(
                        "Nothing moved yet: the refund is waiting for a second staff member (approval request %(id)s).",
                        id=result.value.approval.id,
                    ),
                    "info",
                )
            else:
                _flash_refund(result.value.value)
            return redirect(url_for("admin.client_tab", client_id=client.id, tab="transactions"))
    status = 422 if form.is_submitted() else 200
    page = render_template(
        "admin/payment_refund.html",
        client=client,
        payment=payment,
        left=left,
        destinations=destinations,
        tax_invoice=paid_tax_invoice(payment),
        form=form,
    )
    return page, status


def _flash_refund(outcome) -> None:
    refund = outcome.refund
    amount = format_money(refund.amount_minor, refund.currency)
    if refund.status is PaymentStatus.FAILED:
        refused = _("The gateway refused the refund: %(error)s Nothing was refunded.", error=refund.failure_message)
        if not outcome.made:
            refused = _("This form was already sent once. %(refused)s", refused=refused)
        flash(refused, "error")
    elif not outcome.made:
        flash(_("This refund was already made (%(amount)s); nothing changed.", amount=amount), "info")
    else:
        if refund.gateway == "wallet":
            done = _("%(amount)s refunded to the client's balance.", amount=amount)
        else:
            done = _("%(amount)s refunded to the card.", amount=amount)
        if outcome.credit_note:
            done = _("%(done)s Credit note %(number)s issued.", done=done, number=outcome.credit_note.number)
        flash(done, "success")


@bp.route("/clients/<int:client_id>/invoices/<number>/credit-note", methods=["GET", "POST"])
def credit_note_new(client_id: int, number: str):
    client = client_or_404(client_id)
    invoice = client_invoice(client.id, number)
    if invoice is None or invoice.kind is not DocumentKind.TAX_INVOICE:
        abort(404)
    left = credit_left(invoice)
    form = CreditNoteForm(left=str(left.total_minor))
    if form.validate_on_submit():
        result = run_form_action(
            form,
            lambda: issue_credit_note(
                invoice,
                reason=form.reason.data,
                lines=form.line_credits(request.form, invoice.lines),
                amount_minor=form.amount_minor(invoice.currency),
                actor=request_actor(),
                expected_left_minor=form.expected_left_minor(),
            ),
        )
        if result.ok:
            note = result.value
            amount = format_money(-note.total_minor, note.currency)
            flash(_("Credit note %(number)s issued for %(amount)s.", number=note.number, amount=amount), "success")
            return redirect(url_for("admin.client_tab", client_id=client.id, tab="invoices"))
    status = 422 if form.is_submitted() else 200
    if form.is_submitted():
        left = credit_left(invoice)  # as it is now: the next submit is checked against it
        form.left.data = str(left.total_minor)
    page = render_template(
        "admin/credit_note_new.html",
        client=client,
        invoice=invoice,
        left=left,
        notes=credit_notes_of(invoice),
        form=form,
    )
    return page, status
