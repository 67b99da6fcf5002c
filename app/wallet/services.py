"""Wallet operations: the ledger, card top-ups, paying invoices, bank transfers,
statements. Functions flush, never commit (but for the card: charge_card_to_wallet and
pay_invoices commit the steps a charged card must never lose, documented there); every
balance change goes through post_entry, under the client's row lock."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from babel.numbers import list_currencies
from flask import current_app

from app.approvals import services as approvals
from app.approvals.models import ApprovalRequest
from app.audit import services as audit
from app.clients.models import Client
from app.clients.services import lock_client
from app.core.actors import Actor
from app.core.dates import today, zone
from app.core.errors import Conflict, DomainError, ValidationError
from app.core.events import emit
from app.core.i18n import _
from app.core.money import format_money
from app.core.types import utcnow
from app.extensions import db
from app.hosting.services import convert_service_prices
from app.invoices.models import DocumentKind, Invoice, InvoiceStatus
from app.invoices.services import (
    InvoiceNotPayable,
    client_invoice,
    convert_open_proformas,
    credit_left,
    issue_credit_note,
    record_payment,
)
from app.staff import privileges as P
from app.wallet.gateways import Card, ChargeResult, check_card, get_gateway
from app.wallet.models import (
    BankTransfer,
    EntryKind,
    LedgerEntry,
    Payment,
    PaymentDirection,
    PaymentStatus,
    SavedCard,
    TransferStatus,
)
from app.wallet.uploads import store_proof


class InsufficientFunds(DomainError):
    status_code = 409

    def __init__(self) -> None:
        super().__init__(_("Your account balance is not enough for this payment."))


class PaymentInProgress(DomainError):
    status_code = 409

    def __init__(self) -> None:
        super().__init__(_("This payment is already being processed. Reload the page in a moment."))


# --- the ledger ---------------------------------------------------------------------


def post_entry(
    client_id: int,
    amount_minor: int,
    kind: EntryKind,
    *,
    key: str,
    actor: Actor,
    description: str,
    payment_id: int | None = None,
    invoice_id: int | None = None,
    bank_transfer_id: int | None = None,
) -> LedgerEntry:
    """Change a client's balance by `amount_minor` (signed) and record why.

    Takes the client's row lock. The same `key` twice returns the first entry
    and changes nothing. Raises InsufficientFunds rather than go below zero.
    The entry records `str(actor)` ("user:7", "staff:2", "gateway:test").
    """
    if amount_minor == 0:
        raise ValidationError("The amount must not be zero.", field="amount")
    client = lock_client(client_id)
    existing = db.session.scalar(sa.select(LedgerEntry).where(LedgerEntry.idempotency_key == key))
    if existing is not None:
        if existing.client_id != client_id or existing.amount_minor != amount_minor:
            raise DomainError("This request was already used for a different payment.")
        return existing
    balance = client.balance_minor + amount_minor
    if balance < 0:
        raise InsufficientFunds()
    entry = LedgerEntry(
        client_id=client_id,
        kind=kind,
        amount_minor=amount_minor,
        currency=client.currency,
        balance_after_minor=balance,
        description=description[:255],
        idempotency_key=key,
        actor=str(actor),
        payment_id=payment_id,
        invoice_id=invoice_id,
        bank_transfer_id=bank_transfer_id,
    )
    client.balance_minor = balance
    db.session.add(entry)
    db.session.flush()
    return entry


def balance_mismatches() -> list[tuple[int, int, int]]:
    """(client id, cached balance, sum of entries) for every client where they differ."""
    sums = (
        sa.select(LedgerEntry.client_id, sa.func.sum(LedgerEntry.amount_minor).label("total"))
        .group_by(LedgerEntry.client_id)
        .subquery()
    )
    total = sa.func.coalesce(sums.c.total, 0)
    rows = db.session.execute(
        sa.select(Client.id, Client.balance_minor, total)
        .outerjoin(sums, sums.c.client_id == Client.id)
        .where(Client.balance_minor != total)
        .order_by(Client.id)
    ).all()
    return [tuple(row) for row in rows]


# --- card payments ------------------------------------------------------------------


@dataclass(frozen=True)
class CardPayment:
    """How a client pays by card: a new card (optionally saved) or a saved one."""

    card: Card | None = None
    saved_card_id: int | None = None
    save: bool = False


def _start_payment(client: Client, amount_minor: int, key: str, *, gateway: str, invoice_id=None) -> Payment:
    """The Payment for `key`, created pending; a replay returns the existing one."""
    existing = db.session.scalar(sa.select(Payment).where(Payment.idempotency_key == key))
    if existing is not None:
        if existing.client_id != client.id or existing.amount_minor != amount_minor:
            raise DomainError("This request was already used for a different payment.")
        return existing
    payment = Payment(
        client_id=client.id,
        gateway=gateway,
        idempotency_key=key,
        amount_minor=amount_minor,
        currency=client.currency,
        invoice_id=invoice_id,
    )
    try:
        with db.session.begin_nested():
            db.session.add(payment)
    except sa.exc.IntegrityError:
        # The same key is being paid right now by another request (a double click).
        raise PaymentInProgress() from None
    return payment


@dataclass(frozen=True)
class CardCharge:
    """The outcome of a card charge into the wallet: the payment, and whether this
    call credited the wallet (False for a replay of a key already charged)."""

    payment: Payment
    credited: bool


def charge_card_to_wallet(
    client_id: int,
    amount_minor: int,
    how: CardPayment,
    *,
    key: str,
    actor: Actor,
    invoice_id: int | None = None,
    receipt: bool = True,
) -> CardCharge:
    """Charge a card and credit the wallet with the amount, once per `key`.

    Returns the payment, succeeded (the wallet was credited) or failed (with the
    gateway's message; nothing credited), and whether this call credited it: a
    replay of the same key returns the first payment with `credited` False.
    `receipt`: email the client a top-up receipt (the invoice payment flow sends
    the tax invoice as its receipt instead). Raises CardError for bad card details.

    Exception to "services never commit": the pending payment is committed
    before the gateway is called, so a charge never exists without our record
    (a crash after it is completed by a retry with the same key, or the callback).
    """
    client = db.session.get(Client, client_id)
    gateway = get_gateway(current_app.config["PAYMENT_GATEWAY"])
    token = _saved_card_token(client_id, how)
    payment = _start_payment(client, amount_minor, key, gateway=gateway.name, invoice_id=invoice_id)
    if payment.status is not PaymentStatus.PENDING:
        return CardCharge(payment, credited=False)  # a replay: the first answer stands
    db.session.commit()
    result = gateway.charge(
        amount_minor, client.currency, idempotency_key=key, card=how.card, token=token, save=how.save
    )
    _record_charge(payment, result)
    if not result.ok:
        return CardCharge(payment, credited=False)
    post_entry(
        client_id,
        amount_minor,
        EntryKind.TOP_UP,
        key=f"payment:{payment.id}",
        actor=actor,
        description=f"Card payment {result.brand} •••• {result.last4}",
        payment_id=payment.id,
    )
    if result.token and how.card is not None:
        _save_card(client_id, gateway.name, how.card, result)
    if receipt:
        emit("wallet_topped_up", payment_id=payment.id)
    return CardCharge(payment, credited=True)


def _saved_card_token(client_id: int, how: CardPayment) -> str | None:
    """The gateway token of the client's saved card, or None for a new card (checked here:
    bad details write nothing). Raises ValidationError for another client's card, CardError."""
    if how.saved_card_id is not None:
        saved = db.session.scalar(
            sa.select(SavedCard).where(SavedCard.id == how.saved_card_id, SavedCard.client_id == client_id)
        )
        if saved is None:
            raise ValidationError(_("Choose one of your saved cards."), field="saved_card")
        return saved.token
    if how.card is not None:
        check_card(how.card, today())
    return None


def _record_charge(payment: Payment, result: ChargeResult) -> None:
    """What the gateway answered, on the pending payment: succeeded (with its fee) or failed."""
    payment.external_id = result.external_id
    payment.card_brand, payment.card_last4 = result.brand, result.last4
    payment.completed_at = utcnow()
    if result.ok:
        payment.status = PaymentStatus.SUCCEEDED
        payment.fee_minor = result.fee_minor
    else:
        payment.status = PaymentStatus.FAILED
        payment.failure_message = result.message
    db.session.flush()


def _save_card(client_id: int, gateway: str, card: Card, result: ChargeResult) -> None:
    db.session.add(
        SavedCard(
            client_id=client_id,
            gateway=gateway,
            token=result.token,
            brand=result.brand,
            last4=result.last4,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
        )
    )
    db.session.flush()


def confirm_gateway_payment(
    gateway: str, external_id: str, *, amount_minor: int, currency: str, reference: str | None = None
) -> Payment | None:
    """A gateway's callback that a charge succeeded. Replays change nothing.

    The payment is found by the gateway's charge id or, when our process died
    before it could record that id, by `reference`: the idempotency key we
    gave the gateway with the charge, which it sends back. Returns the
    payment, or None if we know no such charge. Raises DomainError when the
    callback's amount or currency is not the payment's.
    """
    payment = db.session.scalar(
        sa.select(Payment).where(Payment.gateway == gateway, Payment.external_id == external_id).with_for_update()
    )
    if payment is None and reference:
        payment = db.session.scalar(
            sa.select(Payment)
            .where(Payment.gateway == gateway, Payment.idempotency_key == reference, Payment.external_id.is_(None))
            .with_for_update()
        )
    if payment is None or payment.status is not PaymentStatus.PENDING:
        return payment
    if amount_minor != payment.amount_minor or currency != payment.currency:
        raise DomainError("The callback's amount does not match the payment.")
    payment.external_id = external_id
    payment.status = PaymentStatus.SUCCEEDED
    payment.completed_at = utcnow()
    post_entry(
        payment.client_id,
        payment.amount_minor,
        EntryKind.TOP_UP,
        key=f"payment:{payment.id}",
        actor=Actor.system(f"gateway:{gateway}"),
        description=f"Card payment {payment.card_brand or ''} •••• {payment.card_last4 or ''}".strip(),
        payment_id=payment.id,
    )
    # Whatever the charge was for, our request died before using it: the money is in the wallet.
    emit("wallet_topped_up", payment_id=payment.id)
    return payment


# --- paying invoices ------------------------------------------------------------------


def payable_invoices(client_id: int, numbers: list[str]) -> list[Invoice]:
    """The client's unpaid proformas among `numbers`, in the client's currency (others are ignored:
    the card is charged into the balance, which pays only invoices in its own currency)."""
    return db.session.scalars(
        sa.select(Invoice)
        .join(Client, Client.id == Invoice.client_id)
        .where(
            Invoice.client_id == client_id,
            Invoice.number.in_(numbers),
            Invoice.kind == DocumentKind.PROFORMA,
            Invoice.status == InvoiceStatus.UNPAID,
            Invoice.currency == Client.currency,
        )
        .order_by(Invoice.due_date, Invoice.id)
    ).all()


@dataclass(frozen=True)
class PaymentPlan:
    total_minor: int
    from_balance_minor: int
    by_card_minor: int


def plan_payment(client: Client, invoices: list[Invoice], *, use_balance: bool) -> PaymentPlan:
    """How much comes from the wallet and how much from the card."""
    total = sum(invoice.balance_due_minor for invoice in invoices)
    from_balance = min(client.balance_minor, total) if use_balance else 0
    return PaymentPlan(total, from_balance, total - from_balance)


def pay_invoices_from_wallet(client_id: int, invoice_ids: list[int], *, key: str, actor: Actor) -> list[Invoice]:
    """Debit the wallet for each still-unpaid invoice and settle it (tax invoice,
    services renewed). Returns the tax invoices issued. The same `key` again pays
    nothing twice. Raises InsufficientFunds (nothing is paid), DomainError for an
    invoice in another currency than the balance, or InvoiceNotPayable when none
    of the invoices is still unpaid.
    """
    client = lock_client(client_id)
    issued = []
    settled_any = False
    for invoice_id in invoice_ids:
        invoice = db.session.get(Invoice, invoice_id, with_for_update=True, populate_existing=True)
        if invoice is None or invoice.client_id != client_id:
            continue
        if invoice.currency != client.currency:
            raise DomainError(
                f"Invoice {invoice.number} is in {invoice.currency} and your balance in {client.currency}: "
                "it cannot be paid from the balance."
            )
        entry_key = f"{key}:invoice:{invoice_id}"
        if invoice.status is not InvoiceStatus.UNPAID:
            already = db.session.scalar(sa.select(LedgerEntry.id).where(LedgerEntry.idempotency_key == entry_key))
            settled_any = settled_any or already is not None
            continue
        due = invoice.balance_due_minor
        post_entry(
            client_id,
            -due,
            EntryKind.INVOICE_PAYMENT,
            key=entry_key,
            actor=actor,
            description=f"Payment of {invoice.number}",
            invoice_id=invoice.id,
        )
        tax_invoice = record_payment(invoice.id, due)
        if tax_invoice is not None:
            issued.append(tax_invoice)
        settled_any = True
    if not settled_any:
        raise InvoiceNotPayable(", ".join(str(i) for i in invoice_ids))
    return issued


def pay_invoices(
    client_id: int,
    invoices: list[Invoice],
    *,
    by_card_minor: int,
    card: CardPayment | None,
    attempt: str,
    actor: Actor,
) -> list[Invoice]:
    """Pay `invoices` (payable_invoices) as the pay page offers it: charge the card for
    `by_card_minor` (the plan's shortfall, 0 for none) into the wallet, then pay them all
    from the wallet. Returns the tax invoices issued.

    `attempt` is the form's one-time token: the request's key is "pay:<client>:<attempt>",
    the card is charged with "<key>:card" and each invoice debited with "<key>:invoice:<id>"
    (invoice_payment_parts reads them back), so a resubmit charges and pays nothing twice.

    Commits between the two steps, on purpose: the card money is in the wallet (its own
    commit, with the ledger entry) whatever happens next, so the caller's rollback of a
    refused invoice payment leaves it as balance; a charged card is never lost. Raises
    DomainError for a declined card (the failed payment stays recorded), PaymentInProgress
    while the same key is being charged, InsufficientFunds (or, after a card charge, a
    DomainError saying the money is in the balance) when the balance no longer covers the
    invoices, InvoiceNotPayable when none is still unpaid, CardError for bad card details.
    """
    key = f"pay:{client_id}:{attempt}"
    if by_card_minor:
        _charge_shortfall(client_id, invoices, by_card_minor, card, key=key, actor=actor)
    try:
        return pay_invoices_from_wallet(client_id, [i.id for i in invoices], key=key, actor=actor)
    except InsufficientFunds:
        if by_card_minor:
            raise DomainError(
                "Your card payment was added to your account balance, but the balance changed meanwhile "
                "and is not enough for these invoices. Check the amounts and pay again."
            ) from None
        raise


def _charge_shortfall(
    client_id: int, invoices: list[Invoice], amount_minor: int, card: CardPayment, *, key: str, actor: Actor
) -> None:
    """Charge the card into the wallet and commit. Raises DomainError when it was declined."""
    payment = charge_card_to_wallet(
        client_id,
        amount_minor,
        card,
        key=f"{key}:card",
        actor=actor,
        invoice_id=invoices[0].id if len(invoices) == 1 else None,
        receipt=False,  # the tax invoice's payment receipt is the receipt
    ).payment
    db.session.commit()  # the card money is in the wallet whatever happens next
    if payment.status is not PaymentStatus.SUCCEEDED:
        raise DomainError(payment.failure_message or _("The payment was declined."))


@dataclass(frozen=True)
class InvoicePaymentPart:
    """One way money reached an invoice: the account balance or a card, when and how much."""

    method: str  # "balance" or "card"
    label: str  # "Account balance", "Visa card ending in 4242"
    paid_at: datetime
    amount_minor: int
    currency: str


def payments_of(invoice: Invoice) -> list[InvoicePaymentPart]:
    """How a tax invoice or a paid proforma was paid (nothing for other documents).

    The invoice page and PDF ask it as the template global `payments_of`, registered by
    init_app: invoices sit below the wallet and do not import it.
    """
    paid_proforma = invoice.kind is DocumentKind.PROFORMA and invoice.status is InvoiceStatus.PAID
    if invoice.kind is DocumentKind.TAX_INVOICE or paid_proforma:
        return invoice_payment_parts(invoice)
    return []


def invoice_payment_parts(invoice: Invoice) -> list[InvoicePaymentPart]:
    """How a proforma, or the tax invoice issued from it, was paid, read from the ledger and payments.

    Every invoice payment is a debit of the balance (pay_invoices_from_wallet); a card charged for
    the same request (its key plus ":card") topped the balance up first. The request's debits are
    split as the pay page offers it: the balance pays first, the card the rest, in the order the
    invoices were paid. Reads immutable rows only, so a tax invoice needs no new column.
    """
    proforma_id = invoice.source_id if invoice.kind is DocumentKind.TAX_INVOICE else invoice.id
    if proforma_id is None:
        return []
    entries = db.session.scalars(
        sa.select(LedgerEntry)
        .where(LedgerEntry.invoice_id == proforma_id, LedgerEntry.kind == EntryKind.INVOICE_PAYMENT)
        .where(LedgerEntry.client_id == invoice.client_id)
        .order_by(LedgerEntry.id)
    ).all()
    parts: list[InvoicePaymentPart] = []
    for entry in entries:
        parts.extend(_entry_parts(entry))
    return parts


def _entry_parts(entry: LedgerEntry) -> list[InvoicePaymentPart]:
    """The balance and card shares of one invoice-payment debit."""
    amount = -entry.amount_minor
    prefix, found, _rest = entry.idempotency_key.rpartition(":invoice:")
    card = None
    if found:
        card = db.session.scalar(
            sa.select(Payment).where(
                Payment.idempotency_key == f"{prefix}:card",
                Payment.client_id == entry.client_id,
                Payment.status == PaymentStatus.SUCCEEDED,
            )
        )
    if card is None:
        return [InvoicePaymentPart("balance", _("Account balance"), entry.created_at, amount, entry.currency)]
    siblings = db.session.execute(
        sa.select(LedgerEntry.id, LedgerEntry.amount_minor)
        .where(
            LedgerEntry.client_id == entry.client_id,
            LedgerEntry.kind == EntryKind.INVOICE_PAYMENT,
            LedgerEntry.idempotency_key.startswith(f"{prefix}:invoice:", autoescape=True),
        )
        .order_by(LedgerEntry.id)
    ).all()
    balance_left = max(sum(-minor for _, minor in siblings) - card.amount_minor, 0)
    for sibling_id, minor in siblings:
        from_balance = min(balance_left, -minor)
        balance_left -= from_balance
        if sibling_id == entry.id:
            break
    if card.card_last4 and card.card_brand:
        label = _("%(brand)s card ending in %(last4)s", brand=card.card_brand, last4=card.card_last4)
    elif card.card_last4:
        label = _("Card ending in %(last4)s", last4=card.card_last4)
    else:
        label = _("Card")
    parts = [
        InvoicePaymentPart("balance", _("Account balance"), entry.created_at, from_balance, entry.currency),
        InvoicePaymentPart("card", label, card.completed_at or card.created_at, amount - from_balance, entry.currency),
    ]
    return [part for part in parts if part.amount_minor > 0]


# --- bank transfers ---------------------------------------------------------------------

_REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L


def new_transfer_reference() -> str:
    """A unique reference a person can type into a bank form: BF-7KQ4-M2XD."""
    while True:
        code = "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))
        reference = f"BF-{code[:4]}-{code[4:]}"
        if db.session.scalar(sa.select(BankTransfer.id).where(BankTransfer.reference == reference)) is None:
            return reference


def start_bank_transfer(client_id: int, amount_minor: int) -> BankTransfer:
    client = db.session.get(Client, client_id)
    transfer = BankTransfer(
        client_id=client_id, reference=new_transfer_reference(), amount_minor=amount_minor, currency=client.currency
    )
    db.session.add(transfer)
    db.session.flush()
    return transfer


def attach_proof(transfer: BankTransfer, stream, filename: str) -> BankTransfer:
    """Store the client's proof of payment (checked by content). Raises ValidationError."""
    transfer = db.session.get(BankTransfer, transfer.id, with_for_update=True, populate_existing=True)
    if transfer.status not in (TransferStatus.AWAITING_PROOF, TransferStatus.PENDING):
        raise ValidationError(_("This transfer has already been reviewed."), field="proof")
    stored = store_proof(stream, Path(current_app.config["UPLOAD_FOLDER"]), current_app.config["PROOF_MAX_BYTES"])
    transfer.proof_path, transfer.proof_mimetype, transfer.proof_size = stored
    transfer.proof_filename = (filename or "proof")[:255]
    transfer.status = TransferStatus.PENDING
    db.session.flush()
    return transfer


@dataclass(frozen=True)
class TransferReview:
    """The outcome of a staff review: the transfer, and whether this call changed it
    (False when it had already been approved / rejected: a double click, a second tab,
    or when the amount now waits for a second staff member: `approval`)."""

    transfer: BankTransfer
    changed: bool
    approval: ApprovalRequest | None = None


#: A typo must not credit a fortune: a transfer is credited at most this many times what was declared.
MAX_RECEIVED_FACTOR = 10


def approve_bank_transfer(transfer_id: int, *, received_minor: int, actor: Actor, reason: str = "") -> TransferReview:
    """Staff (`actor`) saw the money arrive: record the payment and credit the wallet, once.

    The declared amount is credited as it is. Another amount needs a `reason`, and when
    it differs from the declared one by more than the four-eyes threshold it waits for a
    second staff member ("approve payments"): the review returns the request and nothing
    moves. The client is emailed that the balance was credited. Raises DomainError for a
    rejected transfer, ValidationError for an amount that is not positive or more than ten
    times the declared one (field "received"), or a different amount without a reason
    (field "reason"), Conflict when a different amount is already waiting for approval.
    """
    transfer = db.session.get(BankTransfer, transfer_id, with_for_update=True, populate_existing=True)
    if transfer.status is TransferStatus.APPROVED:
        return TransferReview(transfer, changed=False)
    if transfer.status is TransferStatus.REJECTED:
        raise DomainError("This transfer was rejected; it cannot be approved.")
    if received_minor <= 0:
        raise ValidationError("Enter the amount received.", field="received")
    cap = transfer.amount_minor * MAX_RECEIVED_FACTOR
    if received_minor > cap:
        raise ValidationError(
            f"The amount can be at most {format_money(cap, transfer.currency)} "
            f"({MAX_RECEIVED_FACTOR} times the declared amount): check it for a typo.",
            field="received",
        )
    reason = (reason or "").strip()
    difference = received_minor - transfer.amount_minor
    if difference and not reason:
        raise ValidationError(
            f"The client declared {format_money(transfer.amount_minor, transfer.currency)}: "
            "say why a different amount is credited.",
            field="reason",
        )
    if difference and approvals.needs_approval(TRANSFER_KIND, difference):
        return TransferReview(
            transfer, changed=False, approval=_ask_transfer_approval(transfer, received_minor, reason, actor)
        )
    return _credit_transfer(transfer, received_minor, reason=reason, actor=actor)


def _ask_transfer_approval(transfer: BankTransfer, received_minor: int, reason: str, actor: Actor) -> ApprovalRequest:
    """A four-eyes request to credit `received_minor` for the transfer. Raises Conflict when one waits already."""
    waiting = [
        r
        for r in approvals.pending_for(transfer.client_id, TRANSFER_KIND)
        if r.payload.get("transfer_id") == transfer.id
    ]
    if waiting:
        raise Conflict(
            f"A different amount for {transfer.reference} already waits for approval (request {waiting[0].id})."
        )
    declared = format_money(transfer.amount_minor, transfer.currency)
    return approvals.submit(
        TRANSFER_KIND,
        {"transfer_id": transfer.id, "received_minor": received_minor, "reason": reason},
        client_id=transfer.client_id,
        amount_minor=received_minor,
        currency=transfer.currency,
        summary=f"Credit bank transfer {transfer.reference} with "
        f"{format_money(received_minor, transfer.currency)} (declared {declared})",
        reason=reason,
        actor=actor,
    )


def _credit_transfer(transfer: BankTransfer, received_minor: int, *, reason: str, actor: Actor) -> TransferReview:
    """Record the payment, credit the wallet, mark the transfer approved, audit, email (transfer locked)."""
    client = lock_client(transfer.client_id)
    if client.currency != transfer.currency:
        raise Conflict(
            f"This transfer was declared in {transfer.currency} and the client now pays in {client.currency}: "
            "it cannot be credited as it is. Reject it and ask the client to start a new one."
        )
    used = db.session.scalar(
        sa.select(Payment.id).where(
            Payment.gateway == "manual", sa.func.upper(Payment.external_id) == transfer.reference
        )
    )
    if used is not None:
        raise Conflict(f"Reference {transfer.reference} was already credited by hand (payment {used}).")
    payment = Payment(
        client_id=transfer.client_id,
        gateway="bank_transfer",
        external_id=transfer.reference,
        idempotency_key=f"bank-transfer:{transfer.id}",
        amount_minor=received_minor,
        currency=transfer.currency,
        status=PaymentStatus.SUCCEEDED,
        completed_at=utcnow(),
    )
    db.session.add(payment)
    db.session.flush()
    post_entry(
        transfer.client_id,
        received_minor,
        EntryKind.BANK_TRANSFER,
        key=f"bank-transfer:{transfer.id}",
        actor=actor,
        description=f"Bank transfer {transfer.reference}" + (f": {reason}" if reason else ""),
        payment_id=payment.id,
        bank_transfer_id=transfer.id,
    )
    old_status = transfer.status.value
    transfer.status = TransferStatus.APPROVED
    transfer.received_minor = received_minor
    transfer.payment_id = payment.id
    transfer.reviewed_by, transfer.reviewed_at = actor.id, utcnow()
    db.session.flush()
    audit.record(
        actor,
        "bank_transfer.approve",
        client_id=transfer.client_id,
        target=f"bank_transfer:{transfer.id}",
        old=f"{old_status}, declared {transfer.amount_minor} {transfer.currency}",
        new=f"approved, received {received_minor} {transfer.currency}" + (f" ({reason})" if reason else ""),
    )
    emit("bank_transfer_reviewed", transfer_id=transfer.id)
    return TransferReview(transfer, changed=True)


def _run_transfer_approval(payload: dict, actor: Actor) -> TransferReview:
    """The approved different amount: credit it, unless the transfer was credited or rejected meanwhile."""
    transfer = db.session.get(BankTransfer, payload["transfer_id"], with_for_update=True, populate_existing=True)
    if transfer.status is TransferStatus.APPROVED:
        raise Conflict(f"{transfer.reference} was credited meanwhile: reject this request instead.")
    if transfer.status is TransferStatus.REJECTED:
        raise Conflict(f"{transfer.reference} was rejected meanwhile: reject this request instead.")
    return _credit_transfer(transfer, payload["received_minor"], reason=payload.get("reason", ""), actor=actor)


def reject_bank_transfer(transfer_id: int, *, reason: str, actor: Actor) -> TransferReview:
    """Staff (`actor`) found no such money (or the wrong amount): the transfer is closed, once,
    and the client is emailed the reason. Raises DomainError for a transfer already
    credited, ValidationError without a reason."""
    transfer = db.session.get(BankTransfer, transfer_id, with_for_update=True, populate_existing=True)
    if transfer.status is TransferStatus.APPROVED:
        raise DomainError("This transfer was already credited; reverse it with an adjustment instead.")
    if transfer.status is TransferStatus.REJECTED:
        return TransferReview(transfer, changed=False)
    if not reason.strip():
        raise ValidationError("Tell the client why.", field="reason")
    old_status = transfer.status.value
    transfer.status = TransferStatus.REJECTED
    transfer.rejection_reason = reason.strip()[:255]
    transfer.reviewed_by, transfer.reviewed_at = actor.id, utcnow()
    db.session.flush()
    audit.record(
        actor,
        "bank_transfer.reject",
        client_id=transfer.client_id,
        target=f"bank_transfer:{transfer.id}",
        old=old_status,
        new=f"rejected: {transfer.rejection_reason}",
    )
    emit("bank_transfer_reviewed", transfer_id=transfer.id)
    return TransferReview(transfer, changed=True)


# --- refunds ---------------------------------------------------------------------------

#: Where a refund goes: back to the card through the gateway, or into the client's balance.
REFUND_TO_CARD, REFUND_TO_WALLET = "card", "wallet"


def paid_tax_invoice(payment: Payment) -> Invoice | None:
    """The tax invoice `payment` paid: issued from the proforma it was charged for (or named directly)."""
    if payment.invoice_id is None:
        return None
    invoice = db.session.get(Invoice, payment.invoice_id)
    if invoice is None or invoice.kind is DocumentKind.TAX_INVOICE:
        return invoice
    return db.session.scalar(
        sa.select(Invoice).where(Invoice.source_id == invoice.id, Invoice.kind == DocumentKind.TAX_INVOICE)
    )


def refunded_minor(payment_ids: list[int]) -> dict[int, int]:
    """How much of each incoming payment was refunded (or is being): one query for a page of payments."""
    rows = db.session.execute(
        sa.select(Payment.refund_of_id, sa.func.sum(Payment.amount_minor))
        .where(
            Payment.refund_of_id.in_(payment_ids),
            Payment.status.in_([PaymentStatus.PENDING, PaymentStatus.SUCCEEDED]),
        )
        .group_by(Payment.refund_of_id)
    ).all()
    return {payment_id: total for payment_id, total in rows}


def refund_destinations(payment: Payment) -> list[str]:
    """Where `payment` can be refunded: "card" for a succeeded card charge (back through the
    gateway), "wallet" when it paid a tax invoice (the money comes back as balance). A top-up
    not spent on an invoice goes back to the card only (it is in the balance already); a
    payment neither by card nor for an invoice (a bank transfer top-up) has none."""
    if payment.direction is not PaymentDirection.IN or payment.status is not PaymentStatus.SUCCEEDED:
        return []
    destinations = []
    if payment.card_last4 and payment.external_id:
        destinations.append(REFUND_TO_CARD)
    if paid_tax_invoice(payment) is not None:
        destinations.append(REFUND_TO_WALLET)
    return destinations


@dataclass(frozen=True)
class RefundOutcome:
    """The outgoing payment (succeeded, or failed with the gateway's message), the credit
    note issued with it (if the refunded payment paid a tax invoice), and whether this call
    made it (False: a replay of the same form key, which refunds nothing again)."""

    refund: Payment
    credit_note: Invoice | None
    made: bool


def refund_payment(
    payment_id: int, *, amount_minor: int, to: str, reason: str, key: str, actor: Actor
) -> RefundOutcome:
    """Refund `amount_minor` of an incoming payment to the card (through its gateway) or to
    the wallet, once per `key` (the form's one-time key).

    Records an outgoing Payment (refund_of_id, reason). To the card: the gateway's refund is
    called (with the key: a retry after a crash refunds nothing twice); a top-up not spent on
    an invoice also leaves the balance (a REFUND debit). To the wallet: a REFUND credit. If
    the payment paid a tax invoice, a credit note by amount is issued for the refund (as much
    as is left to credit on it) in the same transaction. A declined refund is recorded
    failed with the gateway's message and moves nothing. Audited as "payment.refund".

    The four-eyes hook goes in front of this call: a request_refund asks check_refund, then
    needs_approval("refund", amount_minor), and submits these same arguments; the kind's run
    calls this function (the key makes the approved run idempotent). This one moves the money.
    Raises ValidationError (field "amount", "to" or "reason"), DomainError for a payment
    that cannot be refunded or a key used for another refund, PaymentInProgress.
    """
    ref_key = f"refund:{key}"
    client_id = db.session.scalar(sa.select(Payment.client_id).where(Payment.id == payment_id))
    if client_id is not None:
        lock_client(client_id)  # first: a concurrent double submit waits here, then finds the first refund
    existing = db.session.scalar(sa.select(Payment).where(Payment.idempotency_key == ref_key))
    if existing is not None:
        if existing.refund_of_id != payment_id or existing.amount_minor != amount_minor:
            raise DomainError("This form was already used for a different refund.")
        note = db.session.get(Invoice, existing.invoice_id) if existing.invoice_id else None
        return RefundOutcome(existing, note if note and note.kind is DocumentKind.CREDIT_NOTE else None, made=False)
    reason = (reason or "").strip()
    original, left = check_refund(payment_id, amount_minor=amount_minor, to=to, reason=reason)
    refund = _start_refund(original, amount_minor, to, reason, ref_key)
    tax_invoice = paid_tax_invoice(original)
    if to == REFUND_TO_CARD:
        try:
            result = get_gateway(original.gateway).refund(original.external_id, amount_minor, idempotency_key=ref_key)
        except NotImplementedError as error:
            raise ValidationError(str(error), field="to") from None  # rolled back: nothing recorded
        except RuntimeError:  # get_gateway: a gateway this site no longer runs
            raise ValidationError(
                f"The {original.gateway} gateway is not configured here: refund in its dashboard, or to the wallet.",
                field="to",
            ) from None
        refund.completed_at = utcnow()
        if not result.ok:
            refund.status, refund.failure_message = PaymentStatus.FAILED, (result.message or "Refund declined.")[:255]
            _audit_refund(actor, original, refund, left)
            return RefundOutcome(refund, None, made=True)
        refund.external_id = result.external_id
    refund.status, refund.completed_at = PaymentStatus.SUCCEEDED, utcnow()
    db.session.flush()
    note = None
    if tax_invoice is not None:
        note = _credit_refund(tax_invoice, amount_minor, reason, actor)
        refund.invoice_id = (note or tax_invoice).id
    if to == REFUND_TO_WALLET or tax_invoice is None:
        # To the wallet: the money comes back as balance. To the card, for a top-up never
        # spent on an invoice: the money was in the balance and leaves it.
        post_entry(
            original.client_id,
            amount_minor if to == REFUND_TO_WALLET else -amount_minor,
            EntryKind.REFUND,
            key=f"refund:{refund.id}",
            actor=actor,
            description=f"Refund of payment #{original.id}: {reason}",
            payment_id=refund.id,
            invoice_id=tax_invoice.id if tax_invoice else None,
        )
    db.session.flush()
    _audit_refund(actor, original, refund, left)
    return RefundOutcome(refund, note, made=True)


def check_refund(payment_id: int, *, amount_minor: int, to: str, reason: str) -> tuple[Payment, int]:
    """Whether the refund may be made now, under the client's row lock: the payment and what
    is left to refund of it. A four-eyes request calls it before it waits, so a refund that
    would be refused never reaches the second staff member. Raises as refund_payment."""
    original = db.session.get(Payment, payment_id)
    if original is None:
        raise DomainError("There is no such payment.")
    client = lock_client(original.client_id)
    db.session.refresh(original)
    destinations = refund_destinations(original)
    if not destinations:
        raise DomainError("Only a succeeded incoming card payment, or a payment of an invoice, can be refunded.")
    left = original.amount_minor - refunded_minor([original.id]).get(original.id, 0)
    _check_refund(original, client, amount_minor, to, (reason or "").strip(), left, destinations)
    return original, left


def _check_refund(original, client, amount_minor, to, reason, left, destinations) -> None:
    if to not in destinations:
        where = {REFUND_TO_CARD: "to the card", REFUND_TO_WALLET: "to the balance"}.get(to, "there")
        raise ValidationError(f"This payment cannot be refunded {where}.", field="to")
    if amount_minor <= 0:
        raise ValidationError("Enter an amount above zero.", field="amount")
    if amount_minor > left:
        raise ValidationError(
            f"Only {format_money(max(left, 0), original.currency)} of this payment is left to refund.", field="amount"
        )
    if original.currency != client.currency:
        raise DomainError("This payment is in another currency than the client's balance.")
    tax_invoice = paid_tax_invoice(original)
    if tax_invoice is not None:
        # A payment of an invoice is refunded at most as far as the invoice can still be credited:
        # what the payment brought beyond it (an add-credit's surplus) is balance, not invoice money.
        creditable = credit_left(tax_invoice).total_minor
        if amount_minor > creditable:
            raise ValidationError(
                f"Invoice {tax_invoice.number} has only {format_money(max(creditable, 0), original.currency)} "
                "left to credit: a refund of its payment cannot be more.",
                field="amount",
            )
    if to == REFUND_TO_CARD and tax_invoice is None and amount_minor > client.balance_minor:
        raise ValidationError(
            f"This top-up is in the balance, which holds only {format_money(client.balance_minor, client.currency)} "
            "now: the client spent part of it.",
            field="amount",
        )
    if not reason:
        raise ValidationError("Give the reason for the refund.", field="reason")


def _start_refund(original: Payment, amount_minor: int, to: str, reason: str, key: str) -> Payment:
    refund = Payment(
        client_id=original.client_id,
        gateway=original.gateway if to == REFUND_TO_CARD else "wallet",
        idempotency_key=key,
        direction=PaymentDirection.OUT,
        amount_minor=amount_minor,
        currency=original.currency,
        status=PaymentStatus.PENDING,
        card_brand=original.card_brand if to == REFUND_TO_CARD else None,
        card_last4=original.card_last4 if to == REFUND_TO_CARD else None,
        refund_of_id=original.id,
        reason=reason[:255],
    )
    try:
        with db.session.begin_nested():
            db.session.add(refund)
    except sa.exc.IntegrityError:
        raise PaymentInProgress() from None  # the same form submitted twice at once
    return refund


def _credit_refund(tax_invoice: Invoice, amount_minor: int, reason: str, actor: Actor) -> Invoice | None:
    """The refund's credit note: by amount, as much as is left to credit (none if nothing is)."""
    creditable = min(amount_minor, credit_left(tax_invoice).total_minor)
    if creditable <= 0:
        return None
    return issue_credit_note(tax_invoice, reason=f"Refund: {reason}", amount_minor=creditable, actor=actor)


def _audit_refund(actor: Actor, original: Payment, refund: Payment, left: int) -> None:
    outcome = refund.status.value + (f" ({refund.failure_message})" if refund.failure_message else "")
    audit.record(
        actor,
        "payment.refund",
        client_id=original.client_id,
        target=f"payment:{original.id}",
        old=f"{left} {original.currency} left to refund",
        new=f"{refund.amount_minor} {refund.currency} to the {_destination(refund)}, {outcome}: {refund.reason}",
    )


def _destination(refund: Payment) -> str:
    return "wallet" if refund.gateway == "wallet" else "card"


# --- staff balance actions: edit credit, add credit (four-eyes above the threshold) -----------

ADJUST_KIND, ADD_CREDIT_KIND, TRANSFER_KIND = "wallet.adjust", "wallet.add_credit", "bank_transfer.approve"

#: How staff say money reached us when they add credit by hand, and the ledger kind it makes.
CREDIT_METHODS: dict[str, tuple[str, EntryKind]] = {
    "bank_transfer": ("Bank transfer", EntryKind.BANK_TRANSFER),
    "cash": ("Cash", EntryKind.TOP_UP),
    "other": ("Other", EntryKind.TOP_UP),
}


@dataclass(frozen=True)
class StaffMoneyAction:
    """What came of a staff balance action: done (`value`), or waiting for a second staff
    member (`approval`), nothing moved yet."""

    value: object = None
    approval: ApprovalRequest | None = None

    @property
    def waiting(self) -> bool:
        return self.approval is not None


MINUS = "\N{MINUS SIGN}"


def _money(amount_minor: int, currency: str, *, signed: bool = False) -> str:
    text = format_money(abs(amount_minor), currency)
    return ("+" if amount_minor > 0 else MINUS) + text if signed else text


def _required_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Give a reason: it goes into the credit log.", field="reason")
    return reason[:200]


def request_adjustment(client_id: int, amount_minor: int, *, reason: str, key: str, actor: Actor) -> StaffMoneyAction:
    """Staff "edit credit": adjust_balance now, or (above the four-eyes threshold) a request
    for a second staff member, which runs adjust_balance once approved. Raises ValidationError
    for a zero amount, a missing reason or a debit larger than the balance."""
    reason = _required_reason(reason)
    if amount_minor == 0:
        raise ValidationError("Enter an amount other than zero.", field="amount")
    client = lock_client(client_id)  # a concurrent double submit waits, then finds the first request
    _check_not_below_zero(client, amount_minor)
    if not approvals.needs_approval(ADJUST_KIND, amount_minor):
        return StaffMoneyAction(value=adjust_balance(client_id, amount_minor, reason=reason, key=key, actor=actor))
    request = approvals.submit(
        ADJUST_KIND,
        {"client_id": client_id, "amount_minor": amount_minor, "reason": reason, "key": key},
        client_id=client_id,
        amount_minor=amount_minor,
        currency=client.currency,
        summary=f"Adjust the balance by {_money(amount_minor, client.currency, signed=True)}",
        reason=reason,
        actor=actor,
        key=f"adjust:{key}",
    )
    return StaffMoneyAction(approval=request)


def _check_not_below_zero(client: Client, amount_minor: int) -> None:
    if client.balance_minor + amount_minor < 0:
        raise ValidationError(
            f"The balance is {_money(client.balance_minor, client.currency)}: an adjustment cannot take it below zero.",
            field="amount",
        )


def adjust_balance(client_id: int, amount_minor: int, *, reason: str, key: str, actor: Actor) -> LedgerEntry:
    """One manual adjustment entry (credit log, no payment), signed, with the reason in its
    description, audited old -> new balance. The same `key` again changes nothing. Raises
    ValidationError (field "amount") rather than take the balance below zero."""
    reason = _required_reason(reason)
    entry_key = f"adjust:{key}"
    client = lock_client(client_id)  # first: a concurrent double submit waits here, then finds the entry
    existing = db.session.scalar(sa.select(LedgerEntry).where(LedgerEntry.idempotency_key == entry_key))
    if existing is not None:
        return existing
    _check_not_below_zero(client, amount_minor)
    old = client.balance_minor
    entry = post_entry(
        client_id, amount_minor, EntryKind.ADJUSTMENT, key=entry_key, actor=actor, description=f"Adjustment: {reason}"
    )
    audit.record(
        actor,
        "wallet.adjust",
        client_id=client_id,
        target=f"ledger_entry:{entry.id}",
        old=_money(old, client.currency),
        new=f"{_money(entry.balance_after_minor, client.currency)} "
        f"({_money(amount_minor, client.currency, signed=True)}: {reason})",
    )
    return entry


@dataclass(frozen=True)
class AddedCredit:
    """Money staff recorded by hand: the payment, its ledger entry, and the tax invoice when it paid a proforma."""

    payment: Payment
    entry: LedgerEntry
    tax_invoices: list[Invoice]


@dataclass(frozen=True)
class ManualCredit:
    """What staff typed on the add-credit form (amount in minor units, in the client's currency)."""

    amount_minor: int
    method: str
    reference: str
    proforma_number: str = ""
    note: str = ""


def _checked_credit(client: Client, credit: ManualCredit) -> Invoice | None:
    """Refuse what cannot be recorded, beside its field; return the proforma to pay, if named."""
    if credit.amount_minor <= 0:
        raise ValidationError("Enter an amount greater than zero.", field="amount")
    if credit.method not in CREDIT_METHODS:
        raise ValidationError("Choose how the money arrived.", field="method")
    if not credit.reference.strip():
        raise ValidationError("Enter the payment's reference (bank statement line, receipt number).", field="reference")
    taken = db.session.scalar(
        sa.select(Payment).where(Payment.gateway == "manual", Payment.external_id == credit.reference.strip())
    )
    if taken is not None:
        raise ValidationError(
            f"A payment with this reference was already recorded (payment {taken.id}, client {taken.client_id}).",
            field="reference",
        )
    transfer = db.session.scalar(
        sa.select(BankTransfer).where(
            BankTransfer.reference == credit.reference.strip().upper(), BankTransfer.status != TransferStatus.REJECTED
        )
    )
    if transfer is not None:
        raise ValidationError(
            f"This is the reference of bank transfer {transfer.reference} (client {transfer.client_id}): "
            "credit it from its review page, not here.",
            field="reference",
        )
    if not credit.proforma_number.strip():
        return None
    proforma = client_invoice(client.id, credit.proforma_number.strip())
    if proforma is None or proforma.kind is not DocumentKind.PROFORMA:
        raise ValidationError("This client has no proforma with this number.", field="proforma")
    if proforma.status is not InvoiceStatus.UNPAID:
        raise ValidationError(f"Proforma {proforma.number} is not unpaid.", field="proforma")
    if proforma.currency != client.currency:
        raise ValidationError(
            f"Proforma {proforma.number} is in {proforma.currency}, the balance in {client.currency}.", field="proforma"
        )
    return proforma


def request_add_credit(client_id: int, credit: ManualCredit, *, key: str, actor: Actor) -> StaffMoneyAction:
    """Staff "add credit": add_credit now, or (above the four-eyes threshold) a request a
    second staff member approves. Raises ValidationError naming the field at fault."""
    client = lock_client(client_id)  # a concurrent double submit waits, then finds the first request
    _checked_credit(client, credit)
    if not approvals.needs_approval(ADD_CREDIT_KIND, credit.amount_minor):
        return StaffMoneyAction(value=add_credit(client_id, credit, key=key, actor=actor))
    label = CREDIT_METHODS[credit.method][0]
    paying = f", then pay {credit.proforma_number.strip()}" if credit.proforma_number.strip() else ""
    request = approvals.submit(
        ADD_CREDIT_KIND,
        {"client_id": client_id, "key": key, **asdict(credit)},
        client_id=client_id,
        amount_minor=credit.amount_minor,
        currency=client.currency,
        summary=f"Add {_money(credit.amount_minor, client.currency)} received by {label.lower()} "
        f"(reference {credit.reference.strip()}){paying}",
        reason=credit.note.strip() or f"{label} received, reference {credit.reference.strip()}",
        actor=actor,
        key=f"manual:{key}",
    )
    return StaffMoneyAction(approval=request)


def add_credit(client_id: int, credit: ManualCredit, *, key: str, actor: Actor) -> AddedCredit:
    """Record money staff received (a Payment through gateway "manual", succeeded, the
    reference as its external id) and credit the wallet; with a proforma number, pay that
    proforma from the balance. Audited old -> new balance. The same `key` again changes
    nothing. Raises ValidationError beside the field at fault (the proforma's when the
    balance does not cover it: then nothing is recorded)."""
    client = lock_client(client_id)  # first: a concurrent double submit waits here, then finds the payment
    replay = db.session.scalar(sa.select(Payment).where(Payment.idempotency_key == f"manual:{key}"))
    if replay is not None:
        entry = db.session.scalar(sa.select(LedgerEntry).where(LedgerEntry.payment_id == replay.id))
        return AddedCredit(replay, entry, [])
    proforma = _checked_credit(client, credit)
    label, kind = CREDIT_METHODS[credit.method]
    old = client.balance_minor
    reference = credit.reference.strip()[:100]
    payment = Payment(
        client_id=client_id,
        gateway="manual",
        external_id=reference,
        idempotency_key=f"manual:{key}",
        amount_minor=credit.amount_minor,
        currency=client.currency,
        status=PaymentStatus.SUCCEEDED,
        completed_at=utcnow(),
        invoice_id=proforma.id if proforma else None,
    )
    db.session.add(payment)
    db.session.flush()
    note = f": {credit.note.strip()}" if credit.note.strip() else ""
    entry = post_entry(
        client_id,
        credit.amount_minor,
        kind,
        key=f"manual:{key}",
        actor=actor,
        description=f"{label} received, reference {reference}{note}",
        payment_id=payment.id,
    )
    issued = _pay_named_proforma(client, proforma, key=key, actor=actor) if proforma else []
    paid = f", paid {proforma.number}" if proforma else ""
    audit.record(
        actor,
        "wallet.add_credit",
        client_id=client_id,
        target=f"payment:{payment.id}",
        old=_money(old, client.currency),
        new=f"{_money(client.balance_minor, client.currency)} "
        f"(+{_money(credit.amount_minor, client.currency)} by {label.lower()}, reference {reference}{paid})",
    )
    return AddedCredit(payment, entry, issued)


def _pay_named_proforma(client: Client, proforma: Invoice, *, key: str, actor: Actor) -> list[Invoice]:
    try:
        return pay_invoices_from_wallet(client.id, [proforma.id], key=f"manual:{key}", actor=actor)
    except InsufficientFunds:
        raise ValidationError(
            f"With this credit the balance would be {_money(client.balance_minor, client.currency)}, "
            f"less than the {_money(proforma.balance_due_minor, proforma.currency)} due on {proforma.number}: "
            "record the full amount, or leave the proforma out.",
            field="proforma",
        ) from None


def _run_adjustment(payload: dict, actor: Actor) -> LedgerEntry:
    return adjust_balance(
        payload["client_id"], payload["amount_minor"], reason=payload["reason"], key=payload["key"], actor=actor
    )


def _run_add_credit(payload: dict, actor: Actor) -> AddedCredit:
    fields = {name: payload[name] for name in ManualCredit.__dataclass_fields__}
    return add_credit(payload["client_id"], ManualCredit(**fields), key=payload["key"], actor=actor)


approvals.register(ADJUST_KIND, privilege=P.MANAGE_BILLING, label="Balance adjustment", run=_run_adjustment)
approvals.register(ADD_CREDIT_KIND, privilege=P.MANAGE_BILLING, label="Add credit", run=_run_add_credit)
approvals.register(
    TRANSFER_KIND, privilege=P.APPROVE_PAYMENTS, label="Bank transfer, different amount", run=_run_transfer_approval
)


# --- refunds through four-eyes ------------------------------------------------------------

REFUND_KIND = "refund"


def request_refund(
    payment_id: int, *, amount_minor: int, to: str, reason: str, key: str, actor: Actor
) -> StaffMoneyAction:
    """Staff's refund: refund_payment now, or (above the four-eyes threshold) a request a second
    staff member approves, whose run is refund_payment with the same key (so it refunds once).
    The refund is checked first: one that would be refused never waits. Raises as refund_payment."""
    if db.session.scalar(sa.select(Payment.id).where(Payment.idempotency_key == f"refund:{key}")) is None:
        original, _ = check_refund(payment_id, amount_minor=amount_minor, to=to, reason=reason)
        if approvals.needs_approval(REFUND_KIND, amount_minor):
            where = "to the card" if to == REFUND_TO_CARD else "to the balance"
            request = approvals.submit(
                REFUND_KIND,
                {"payment_id": payment_id, "amount_minor": amount_minor, "to": to, "reason": reason, "key": key},
                client_id=original.client_id,
                amount_minor=amount_minor,
                currency=original.currency,
                summary=f"Refund {format_money(amount_minor, original.currency)} of payment #{original.id} {where}",
                reason=reason,
                actor=actor,
                key=f"refund-request:{key}",
            )
            return StaffMoneyAction(approval=request)
    return StaffMoneyAction(
        value=refund_payment(payment_id, amount_minor=amount_minor, to=to, reason=reason, key=key, actor=actor)
    )


def _run_refund(payload: dict, actor: Actor) -> RefundOutcome:
    return refund_payment(
        payload["payment_id"],
        amount_minor=payload["amount_minor"],
        to=payload["to"],
        reason=payload["reason"],
        key=payload["key"],
        actor=actor,
    )


approvals.register(REFUND_KIND, privilege=P.MANAGE_BILLING, label="Refund", run=_run_refund)


# --- statements -------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    start: date
    end: date
    currency: str
    opening_minor: int
    closing_minor: int
    entries: list[LedgerEntry]

    @property
    def credits_minor(self) -> int:
        return sum(e.amount_minor for e in self.entries if e.amount_minor > 0)

    @property
    def debits_minor(self) -> int:
        return -sum(e.amount_minor for e in self.entries if e.amount_minor < 0)


def account_statement(client: Client, start: date, end: date) -> Statement:
    """Every entry from `start` to `end` (whole days in the client's time zone) with opening and closing balances."""
    if end < start:
        raise ValidationError("The end date is before the start date.", field="end")
    start, end = max(start, date(2000, 1, 1)), min(end, today(client.timezone) + timedelta(days=1))
    days_in = zone(client.timezone)
    since = datetime.combine(start, time.min, days_in)
    until = datetime.combine(end + timedelta(days=1), time.min, days_in)
    opening = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount_minor), 0)).where(
            LedgerEntry.client_id == client.id, LedgerEntry.created_at < since
        )
    )
    entries = db.session.scalars(
        sa.select(LedgerEntry)
        .where(LedgerEntry.client_id == client.id, LedgerEntry.created_at >= since, LedgerEntry.created_at < until)
        .order_by(LedgerEntry.id)
    ).all()
    closing = opening + sum(e.amount_minor for e in entries)
    return Statement(start, end, client.currency, opening, closing, list(entries))


def client_money_totals(client_id: int) -> dict[str, int]:
    """Amount in, amount out and gateway fees of a client's succeeded payments."""

    rows = db.session.execute(
        sa.select(Payment.direction, sa.func.sum(Payment.amount_minor), sa.func.sum(Payment.fee_minor))
        .where(Payment.client_id == client_id, Payment.status == PaymentStatus.SUCCEEDED)
        .group_by(Payment.direction)
    ).all()
    totals = {"in": 0, "out": 0, "fees": 0}
    for direction, amount, fees in rows:
        totals["in" if direction is PaymentDirection.IN else "out"] += amount or 0
        totals["fees"] += fees or 0
    return totals


def init_app(app) -> None:
    app.jinja_env.globals["payments_of"] = payments_of


def change_client_currency(client_id: int, currency: str, *, rate: Decimal | None, actor: Actor) -> Client:
    """Change the client's currency (staff, "manage billing"). Only with a zero balance
    (the wallet's money is in the old currency); the unpaid proformas and the services move
    to the new currency, recalculated at `rate` when given (half-up in minor units), kept
    as they are otherwise; tax invoices never change. Audited old -> new. Flushes.

    Raises ValidationError (unknown currency, the same one, a bad rate) or Conflict (a
    balance, a partly paid proforma)."""
    currency = (currency or "").strip().upper()
    if currency not in list_currencies():
        raise ValidationError("Choose an ISO 4217 currency code, like EUR or RON.", field="currency")
    if rate is not None and rate <= 0:
        raise ValidationError("The rate must be greater than zero.", field="rate")
    client = lock_client(client_id)
    old = client.currency
    if currency == old:
        raise ValidationError(f"The client already uses {old}.", field="currency")
    if client.balance_minor != 0:
        raise Conflict(
            f"The client's balance is {format_money(client.balance_minor, old)}: the currency can change "
            "only at a zero balance (refund or use the credit first)."
        )
    open_transfers = db.session.scalar(
        sa.select(sa.func.count()).where(
            BankTransfer.client_id == client.id,
            BankTransfer.status.in_([TransferStatus.AWAITING_PROOF, TransferStatus.PENDING]),
        )
    )
    if open_transfers:
        raise Conflict(
            f"The client has {open_transfers} bank transfer(s) in {old} still open: approve or reject them first."
        )
    proformas = convert_open_proformas(client.id, currency, rate)
    services = convert_service_prices(client.id, currency, rate)
    client.currency = currency
    how = f"at {rate}" if rate is not None else "amounts kept"
    audit.record(
        actor,
        "client.currency",
        client_id=client.id,
        target=f"client:{client.id}",
        old=old,
        new=f"{currency} ({how}; {len(proformas)} open proformas, {services} services)",
    )
    db.session.flush()
    return client
