"""Staff login and the admin home."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user

from app.auth.forms import LoginForm
from app.core.errors import InvalidCredentials
from app.core.ratelimit import rate_limited
from app.core.urls import is_safe_next
from app.extensions import db
from app.security.services import record_login
from app.security.signin import log_in, staff_required
from app.staff.services import authenticate_staff

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/login", methods=["GET", "POST"])
@rate_limited(per_account=True)
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            staff = authenticate_staff(form.email.data, form.password.data)
        except InvalidCredentials as exc:
            error = exc.message
        else:
            record_login(staff, request.remote_addr)
            db.session.commit()
            log_in(staff)
            target = request.args.get("next")
            return redirect(target if is_safe_next(target) else url_for("admin.index"))
    status = 422 if form.is_submitted() else 200
    return render_template("admin/login.html", form=form, error=error), status


@bp.post("/logout")
def logout():
    logout_user()
    session.clear()
    flash("You have been signed out.", "info")
    return redirect(url_for("admin.login"))


@bp.route("/")
@staff_required
def index():
    return render_template("admin/index.html", staff=current_user)


# --- bank transfers to approve -------------------------------------------------------


@bp.route("/bank-transfers")
@staff_required
def bank_transfers():
    from app.wallet.models import BankTransfer, TransferStatus

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
@staff_required
def approve_transfer(transfer_id: int):
    from app.core.errors import DomainError
    from app.core.money import parse_amount
    from app.wallet.models import BankTransfer
    from app.wallet.services import approve_bank_transfer

    transfer = db.get_or_404(BankTransfer, transfer_id)
    try:
        # At most ten times what the client declared: a typo must not credit a fortune.
        received = parse_amount(
            request.form.get("received", ""), transfer.currency, max_minor=transfer.amount_minor * 10
        )
        review = approve_bank_transfer(transfer.id, received_minor=received, staff_id=current_user.id)
    except DomainError as error:
        db.session.rollback()
        flash(f"{transfer.reference}: {error.message}", "error")
    else:
        db.session.commit()
        if review.changed:
            flash(f"{transfer.reference} approved: the balance was credited and the client emailed.", "success")
        else:
            flash(f"{transfer.reference} was already approved and credited; nothing changed.", "info")
    return redirect(url_for("admin.bank_transfers"))


@bp.post("/bank-transfers/<int:transfer_id>/reject")
@staff_required
def reject_transfer(transfer_id: int):
    from app.core.errors import DomainError
    from app.wallet.models import BankTransfer
    from app.wallet.services import reject_bank_transfer

    transfer = db.get_or_404(BankTransfer, transfer_id)
    try:
        review = reject_bank_transfer(transfer.id, reason=request.form.get("reason", ""), staff_id=current_user.id)
    except DomainError as error:
        db.session.rollback()
        flash(f"{transfer.reference}: {error.message}", "error")
    else:
        db.session.commit()
        if review.changed:
            flash(f"{transfer.reference} rejected: the client was emailed the reason.", "info")
        else:
            flash(f"{transfer.reference} was already rejected; nothing changed.", "info")
    return redirect(url_for("admin.bank_transfers"))


@bp.route("/bank-transfers/<int:transfer_id>/proof")
@staff_required
def transfer_proof(transfer_id: int):
    from app.wallet.models import BankTransfer
    from app.wallet.views import send_proof

    return send_proof(db.get_or_404(BankTransfer, transfer_id))
