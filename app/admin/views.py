"""The admin home and the bank transfers to review."""

from __future__ import annotations

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.admin.blueprint import bp
from app.core.actors import request_actor
from app.core.form_actions import run_form_action
from app.core.money import parse_amount
from app.extensions import db
from app.wallet.models import BankTransfer, TransferStatus
from app.wallet.services import approve_bank_transfer, reject_bank_transfer
from app.wallet.uploads import send_proof


@bp.route("/")
def index():
    return render_template("admin/index.html", staff=current_user)


# --- bank transfers to approve -------------------------------------------------------


@bp.route("/bank-transfers")
def bank_transfers():

    pending = db.session.scalars(
        sa.select(BankTransfer)
        .where(BankTransfer.status.in_([TransferStatus.PENDING, TransferStatus.AWAITING_PROOF]))
        .order_by(BankTransfer.status.desc(), BankTransfer.id)
    ).all()
    recent = db.session.scalars(
        sa.select(BankTransfer)
        .where(BankTransfer.status.in_([TransferStatus.APPROVED, TransferStatus.REJECTED]))
        .order_by(BankTransfer.reviewed_at.desc())
        .limit(20)
    ).all()
    return render_template("admin/bank_transfers.html", pending=pending, recent=recent, staff=current_user)


@bp.post("/bank-transfers/<int:transfer_id>/approve")
def approve_transfer(transfer_id: int):

    transfer = db.get_or_404(BankTransfer, transfer_id)

    def approve():
        # At most ten times what the client declared: a typo must not credit a fortune.
        received = parse_amount(
            request.form.get("received", ""), transfer.currency, max_minor=transfer.amount_minor * 10
        )
        return approve_bank_transfer(transfer.id, received_minor=received, actor=request_actor())

    result = run_form_action(None, approve, prefix=f"{transfer.reference}: ")
    if result.ok:
        if result.value.changed:
            flash(f"{transfer.reference} approved: the balance was credited and the client emailed.", "success")
        else:
            flash(f"{transfer.reference} was already approved and credited; nothing changed.", "info")
    return redirect(url_for("admin.bank_transfers"))


@bp.post("/bank-transfers/<int:transfer_id>/reject")
def reject_transfer(transfer_id: int):

    transfer = db.get_or_404(BankTransfer, transfer_id)
    result = run_form_action(
        None,
        lambda: reject_bank_transfer(transfer.id, reason=request.form.get("reason", ""), actor=request_actor()),
        prefix=f"{transfer.reference}: ",
    )
    if result.ok:
        if result.value.changed:
            flash(f"{transfer.reference} rejected: the client was emailed the reason.", "info")
        else:
            flash(f"{transfer.reference} was already rejected; nothing changed.", "info")
    return redirect(url_for("admin.bank_transfers"))


@bp.route("/bank-transfers/<int:transfer_id>/proof")
def transfer_proof(transfer_id: int):

    return send_proof(db.get_or_404(BankTransfer, transfer_id))
