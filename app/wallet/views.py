"""Account balance, adding funds, bank transfers, statements and paying invoices."""

from __future__ import annotations

import hashlib
import hmac
import io
import json

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from app.access.policy import can
from app.core.actors import request_actor
from app.core.errors import DomainError, ValidationError
from app.core.form_actions import run_form_action
from app.core.i18n import _, ngettext
from app.core.pagination import Keyset, keyset_page, page_redirect
from app.core.rendering import redirect_to, render_page
from app.extensions import csrf, db
from app.invoices.services import InvoiceNotPayable
from app.wallet.forms import AddFundsForm, PayInvoicesForm, ProofForm
from app.wallet.models import BankTransfer, LedgerEntry, PaymentStatus, SavedCard, TransferStatus
from app.wallet.services import (
    CardPayment,
    PaymentInProgress,
    attach_proof,
    charge_card_to_wallet,
    confirm_gateway_payment,
    pay_invoices,
    payable_invoices,
    plan_payment,
    start_bank_transfer,
)
from app.wallet.statements import statement_download, statement_period
from app.wallet.uploads import send_proof

bp = Blueprint("wallet", __name__)


#: The ledger's order, newest first (ids grow with time).
LEDGER_ORDER = Keyset((LedgerEntry.id,), (int,))


def _saved_cards() -> list[SavedCard]:
    return db.session.scalars(
        sa.select(SavedCard).where(SavedCard.client_id == current_user.client_id).order_by(SavedCard.id.desc())
    ).all()


def get_owned_transfer_or_404(transfer_id: int) -> BankTransfer:
    transfer = db.session.scalar(
        sa.select(BankTransfer).where(BankTransfer.id == transfer_id, BankTransfer.client_id == current_user.client_id)
    )
    if transfer is None:
        abort(404)
    return transfer


@bp.route("/wallet")
def index():
    old_bookmark = page_redirect("wallet.index")
    if old_bookmark is not None:
        return old_bookmark
    client = current_user.client
    entries = keyset_page(
        sa.select(LedgerEntry).where(LedgerEntry.client_id == client.id).options(selectinload(LedgerEntry.invoice)),
        LEDGER_ORDER,
        per_page=current_app.config["LEDGER_PER_PAGE"],
    )
    transfers = db.session.scalars(
        sa.select(BankTransfer)
        .where(
            BankTransfer.client_id == client.id,
            BankTransfer.status.in_([TransferStatus.AWAITING_PROOF, TransferStatus.PENDING]),
        )
        .order_by(BankTransfer.id.desc())
    ).all()
    return render_page("wallet/index.html", "wallet/_ledger.html", client=client, page=entries, transfers=transfers)


def _card_payment(form) -> CardPayment:
    saved = form.saved_card_id()
    if saved is not None:
        return CardPayment(saved_card_id=saved)
    return CardPayment(card=form.card(), save=form.save_card.data)


@bp.route("/wallet/add-funds", methods=["GET", "POST"])
def add_funds():
    client = current_user.client
    form = AddFundsForm(client.currency, _saved_cards())
    if form.validate_on_submit():
        done = _bank_transfer(form, client) if form.method.data == "bank" else _card_top_up(form, client)
        if done is not None:
            return done
    status = 422 if form.is_submitted() else 200
    form.forget_card()  # never send a card number or security code back to the browser
    return render_page("wallet/add_funds.html", "wallet/_add_funds_form.html", status, form=form, client=client)


def _bank_transfer(form: AddFundsForm, client):
    """Start a bank transfer of the chosen amount: the page with the bank details, or None."""
    result = run_form_action(form, lambda: start_bank_transfer(client.id, form.amount_minor()))
    return redirect_to(url_for("wallet.transfer", transfer_id=result.value.id)) if result.ok else None


def _card_top_up(form: AddFundsForm, client):
    """Charge the card into the balance: back to the wallet when credited, else None (the form says why)."""
    result = run_form_action(
        form,
        lambda: charge_card_to_wallet(
            client.id,
            form.amount_minor(),
            _card_payment(form),
            key=f"topup:{client.id}:{form.idempotency_key.data}",
            actor=request_actor(),
        ),
    )
    if not result.ok:
        return None
    payment = result.value.payment
    card = f"{payment.card_brand} •••• {payment.card_last4}"
    if payment.status is PaymentStatus.SUCCEEDED and result.value.credited:
        flash(_("%(card)s: your balance was credited.", card=card), "success")
        return redirect_to(url_for("wallet.index"))
    if payment.status is PaymentStatus.SUCCEEDED:  # the same form sent again (double submit, back button)
        flash(_("%(card)s: this payment was already credited to your balance; nothing changed.", card=card), "info")
        return redirect_to(url_for("wallet.index"))
    form.form_errors.append(payment.failure_message or _("The payment was declined."))
    form.idempotency_key.data = ""  # a new attempt (another card) is a new payment
    form.setup_cards(_saved_cards())
    return None


@bp.route("/wallet/transfers/<int:transfer_id>", methods=["GET", "POST"])
def transfer(transfer_id: int):
    item = get_owned_transfer_or_404(transfer_id)
    form = ProofForm()
    if form.validate_on_submit():
        upload = request.files.get("proof")
        stream, filename = (upload.stream, upload.filename) if upload else (io.BytesIO(), "")
        result = run_form_action(
            form, lambda: attach_proof(item, stream, filename), catch=ValidationError, unplaced="proof"
        )
        if result.ok:
            flash(_("Thank you: we will credit your balance as soon as we see the transfer."), "success")
            return redirect_to(url_for("wallet.transfer", transfer_id=item.id))
    status = 422 if form.is_submitted() else 200
    return render_template("wallet/transfer.html", transfer=item, form=form), status


@bp.route("/wallet/transfers/<int:transfer_id>/proof")
def transfer_proof(transfer_id: int):
    return send_proof(get_owned_transfer_or_404(transfer_id))


@bp.route("/wallet/statement")
def statement():
    client = current_user.client
    form, result = statement_period(client, request.args)
    download = statement_download(client, result, request.args.get("format"))
    if download is not None:
        return download
    return render_template("wallet/statement.html", statement=result, form=form, client=client)


# --- paying invoices ----------------------------------------------------------------


@bp.route("/invoices/pay", methods=["GET", "POST"])
def pay():
    """Pay one or several unpaid proformas: wallet first if asked, the rest by card."""
    client = current_user.client
    invoices = payable_invoices(client.id, request.values.getlist("invoice"))
    if not invoices:
        flash(_("There is nothing left to pay among the invoices you chose."), "info")
        return redirect_to(url_for("invoices.index", status="unpaid"))
    form = _pay_form(client)
    plan = plan_payment(client, invoices, use_balance=bool(form.use_balance.data))
    if form.validate_on_submit() and form.expected_card_minor.data != str(plan.by_card_minor):
        form.form_errors.append(_("Your balance changed since this page was shown: check the amounts and pay again."))
    elif form.validate_on_submit():
        result = run_form_action(form, lambda: _pay_invoices(form, client, invoices, plan))
        if result.ok:
            return _paid(result.value)
        if isinstance(result.error, InvoiceNotPayable):
            flash(_("These invoices were already paid; nothing was charged twice."), "info")
            return redirect_to(url_for("invoices.index"))
        if isinstance(result.error, DomainError):
            _after_refused_payment(form, result.error)
    status = 422 if form.is_submitted() else 200
    form.forget_card()
    form.expected_card_minor.data = str(plan.by_card_minor)
    return render_page(
        "wallet/pay.html", "wallet/_pay_form.html", status, form=form, invoices=invoices, plan=plan, client=client
    )


def _pay_form(client) -> PayInvoicesForm:
    form = PayInvoicesForm(_saved_cards())
    if not form.is_submitted():
        # The checkbox refreshes the form (htmx GET with refresh=1) to show the new split.
        refreshed = request.args.get("refresh")
        form.use_balance.data = "use_balance" in request.args if refreshed else client.balance_minor > 0
    if not can(current_user, "wallet"):
        form.use_balance.data = False  # paying from the balance needs the wallet permission
    return form


def _pay_invoices(form: PayInvoicesForm, client, invoices, plan):
    return pay_invoices(
        client.id,
        invoices,
        by_card_minor=plan.by_card_minor,
        card=_card_payment(form) if plan.by_card_minor else None,
        attempt=form.idempotency_key.data,
        actor=request_actor(),
    )


def _after_refused_payment(form: PayInvoicesForm, error: DomainError) -> None:
    """The form for another try: a new key unless the same payment is still in progress."""
    if isinstance(error, ValidationError):
        return  # shown beside its field: the same payment may be sent again as it is
    if not isinstance(error, PaymentInProgress):
        form.idempotency_key.data = ""
    form.setup_cards(_saved_cards())


def _paid(issued):
    numbers = ", ".join(i.number for i in issued)
    flash(
        ngettext(
            "Paid. Tax invoice %(numbers)s issued.",
            "Paid. Tax invoices %(numbers)s issued.",
            len(issued),
            numbers=numbers,
        ),
        "success",
    )
    if len(issued) == 1:
        return redirect_to(url_for("invoices.view", number=issued[0].number))
    return redirect_to(url_for("invoices.index", status="paid"))


# --- gateway callbacks --------------------------------------------------------------


@bp.post("/wallet/callback/<gateway>")
@csrf.exempt  # authenticated by the gateway's signature instead
def gateway_callback(gateway: str):
    """A gateway tells us a charge succeeded. Signed with HMAC-SHA256; replays change nothing.

    Body: {"external_id", "status", "amount_minor", "currency", "reference"}, where
    `reference` is the idempotency key the charge was made with (the gateway's
    metadata), which finds a payment whose request died before recording the charge id.
    """
    event = _signed_event()
    if event["status"] != "succeeded":
        return {"ok": True}
    amount, currency, reference = event.get("amount_minor"), event.get("currency"), event.get("reference")
    # A success must say how much, in what currency: never credit "whatever was pending".
    if type(amount) is not int or not isinstance(currency, str) or not isinstance(reference, str | None):
        abort(400)
    try:
        payment = confirm_gateway_payment(
            gateway, str(event["external_id"]), amount_minor=amount, currency=currency, reference=reference
        )
    except DomainError:
        db.session.rollback()
        abort(409)
    db.session.commit()
    if payment is None:
        abort(404)
    return {"ok": True}


def _signed_event() -> dict:
    """The callback's JSON body with its signature checked. Aborts 404 without a webhook
    secret, 400 for a bad signature or a body without external_id and status."""
    secret = current_app.config["PAYMENT_WEBHOOK_SECRET"]
    if not secret:
        abort(404)
    body = request.get_data()
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, request.headers.get("X-Signature", "")):
        abort(400)
    try:
        event = json.loads(body)
    except ValueError:
        abort(400)
    if not isinstance(event, dict) or "external_id" not in event or "status" not in event:
        abort(400)
    return event
