"""The admin home (what waits for staff) and the bank transfers to review."""

from __future__ import annotations

import sqlalchemy as sa
from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from app.admin.blueprint import bp
from app.admin.transfer_forms import ApproveTransferForm, RejectTransferForm
from app.approvals import services as four_eyes
from app.clients.models import Client, User, UserRole
from app.core.actors import request_actor
from app.core.dates import today
from app.core.form_actions import run_form_action
from app.core.i18n import _
from app.core.money import to_decimal
from app.einvoice import services as efactura
from app.einvoice.models import EInvoice
from app.extensions import db
from app.invoices.models import BillingRun
from app.notify.models import EmailMessage, MessageStatus, SmsMessage, SmsStatus
from app.profile.models import ErasureRequest
from app.wallet.models import BankTransfer, TransferStatus
from app.wallet.services import TRANSFER_KIND, approve_bank_transfer, reject_bank_transfer
from app.wallet.uploads import send_proof

#: How many rows a "waiting" list shows (the oldest first: they have waited longest).
WAITING_LIMIT = 100


def _count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


@bp.route("/")
def index():
    waiting = {
        "transfers": _count(BankTransfer, BankTransfer.status == TransferStatus.PENDING),
        "transfers_without_proof": _count(BankTransfer, BankTransfer.status == TransferStatus.AWAITING_PROOF),
        "failed_emails": _count(EmailMessage, EmailMessage.status == MessageStatus.FAILED),
        "failed_sms": _count(SmsMessage, SmsMessage.status == SmsStatus.FAILED),
        "erasure_requests": _count(ErasureRequest, ErasureRequest.status == "open"),
        "approvals": four_eyes.pending_count(),
        "efactura": _count(EInvoice, efactura.reports_where("attention", today())) if efactura.enabled() else None,
    }
    last_run = db.session.scalars(sa.select(BillingRun).order_by(BillingRun.id.desc()).limit(1)).first()
    return render_template("admin/index.html", staff=current_user, waiting=waiting, last_run=last_run)


def _clients_by_id(ids) -> dict[int, tuple[Client, User | None]]:
    """Each client of `ids` with its owner (name and email to show beside a row), in one query."""
    rows = db.session.execute(
        sa.select(Client, User)
        .outerjoin(User, sa.and_(User.client_id == Client.id, User.role == UserRole.OWNER))
        .where(Client.id.in_(set(ids)))
    ).all()
    return {client.id: (client, owner) for client, owner in rows}


# --- what waits for staff ----------------------------------------------------------------


@bp.route("/messages/failed")
def failed_messages():
    emails = db.session.scalars(
        sa.select(EmailMessage)
        .where(EmailMessage.status == MessageStatus.FAILED)
        .order_by(EmailMessage.id.desc())
        .limit(WAITING_LIMIT)
    ).all()
    sms = db.session.scalars(
        sa.select(SmsMessage)
        .where(SmsMessage.status == SmsStatus.FAILED)
        .order_by(SmsMessage.id.desc())
        .limit(WAITING_LIMIT)
    ).all()
    clients = _clients_by_id([m.client_id for m in [*emails, *sms] if m.client_id])
    return render_template("admin/failed_messages.html", emails=emails, sms=sms, clients=clients)


@bp.route("/erasure-requests")
def erasure_requests():
    requests_ = db.session.scalars(
        sa.select(ErasureRequest)
        .where(ErasureRequest.status == "open")
        .order_by(ErasureRequest.id)
        .limit(WAITING_LIMIT)
    ).all()
    clients = _clients_by_id(r.client_id for r in requests_)
    return render_template("admin/erasure_requests.html", requests=requests_, clients=clients)


@bp.route("/billing-runs")
def billing_runs():
    runs = db.session.scalars(sa.select(BillingRun).order_by(BillingRun.id.desc()).limit(60)).all()
    return render_template("admin/billing_runs.html", runs=runs)


# --- bank transfers to approve -------------------------------------------------------


@bp.route("/bank-transfers")
def bank_transfers():
    pending = db.session.scalars(
        sa.select(BankTransfer)
        .where(BankTransfer.status.in_([TransferStatus.PENDING, TransferStatus.AWAITING_PROOF]))
        .order_by(BankTransfer.status.desc(), BankTransfer.id)
        .limit(WAITING_LIMIT)
    ).all()
    recent = db.session.scalars(
        sa.select(BankTransfer)
        .where(BankTransfer.status.in_([TransferStatus.APPROVED, TransferStatus.REJECTED]))
        .order_by(BankTransfer.reviewed_at.desc())
        .limit(20)
    ).all()
    clients = _clients_by_id(t.client_id for t in [*pending, *recent])
    return render_template("admin/bank_transfers.html", pending=pending, recent=recent, clients=clients)


def _review_page(transfer: BankTransfer, approve: ApproveTransferForm, reject: RejectTransferForm, status=200):
    client, owner = _clients_by_id([transfer.client_id])[transfer.client_id]
    waiting = [
        r
        for r in four_eyes.pending_for(transfer.client_id, TRANSFER_KIND)
        if r.payload.get("transfer_id") == transfer.id
    ]
    page = render_template(
        "admin/bank_transfer.html",
        transfer=transfer,
        client=client,
        owner=owner,
        approve=approve,
        reject=reject,
        waiting=waiting,
    )
    return page, status


@bp.route("/bank-transfers/<int:transfer_id>")
def bank_transfer(transfer_id: int):
    transfer = db.get_or_404(BankTransfer, transfer_id)
    approve = ApproveTransferForm(received=_decimal(transfer))
    return _review_page(transfer, approve, RejectTransferForm())


def _decimal(transfer: BankTransfer) -> str:
    return str(to_decimal(transfer.amount_minor, transfer.currency))


@bp.post("/bank-transfers/<int:transfer_id>/approve")
def approve_transfer(transfer_id: int):
    transfer = db.get_or_404(BankTransfer, transfer_id)
    form = ApproveTransferForm()
    if form.validate_on_submit():
        result = run_form_action(
            form,
            lambda: approve_bank_transfer(
                transfer.id,
                received_minor=form.received_minor(transfer.currency),
                reason=form.reason.data or "",
                actor=request_actor(),
            ),
        )
        if result.ok:
            if result.value.approval is not None:
                flash(
                    _(
                        "%(reference)s: nothing credited yet. The different amount is waiting for a second "
                        "staff member (approval request %(id)s).",
                        reference=transfer.reference,
                        id=result.value.approval.id,
                    ),
                    "info",
                )
            elif result.value.changed:
                flash(
                    _(
                        "%(reference)s approved: the balance was credited and the client emailed.",
                        reference=transfer.reference,
                    ),
                    "success",
                )
            else:
                flash(
                    _(
                        "%(reference)s was already approved and credited; nothing changed.",
                        reference=transfer.reference,
                    ),
                    "info",
                )
            return redirect(url_for("admin.bank_transfers"))
    return _review_page(transfer, form, RejectTransferForm(formdata=None), status=422)


@bp.post("/bank-transfers/<int:transfer_id>/reject")
def reject_transfer(transfer_id: int):
    transfer = db.get_or_404(BankTransfer, transfer_id)
    form = RejectTransferForm()
    if form.validate_on_submit():
        result = run_form_action(
            form, lambda: reject_bank_transfer(transfer.id, reason=form.reason.data, actor=request_actor())
        )
        if result.ok:
            if result.value.changed:
                flash(
                    _("%(reference)s rejected: the client was emailed the reason.", reference=transfer.reference),
                    "info",
                )
            else:
                flash(_("%(reference)s was already rejected; nothing changed.", reference=transfer.reference), "info")
            return redirect(url_for("admin.bank_transfers"))
    return _review_page(transfer, ApproveTransferForm(formdata=None, received=_decimal(transfer)), form, status=422)


@bp.route("/bank-transfers/<int:transfer_id>/proof")
def transfer_proof(transfer_id: int):
    return send_proof(db.get_or_404(BankTransfer, transfer_id))
