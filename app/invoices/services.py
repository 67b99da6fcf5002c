"""Invoice operations: proformas, billing details, payment and tax invoices.

Functions flush but never commit; the caller (a view, a job, the billing run)
commits once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app

from app.audit import services as audit
from app.clients.models import Client, ClientKind
from app.clients.services import lock_client
from app.core.actors import Actor
from app.core.dates import local_date
from app.core.errors import Conflict, DomainError, ValidationError
from app.core.events import emit
from app.core.i18n import _
from app.core.money import convert_minor, format_money
from app.core.sql import add_days
from app.core.types import utcnow
from app.extensions import db
from app.invoices.guards import ImmutableInvoice
from app.invoices.models import (
    BillingProfile,
    DocumentKind,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    ProformaOrigin,
    QueuedItem,
    VatCheckStatus,
)
from app.invoices.numbering import take_number
from app.invoices.proformas import BuyerDetails, LineSpec, Payer, build_proforma, buyer_columns
from app.invoices.tax import InvalidTaxId, normalize_tax_id, tax_by_rate, vat_breakdown
from app.invoices.vies import (
    needs_verification,
    recompute_totals,
    verified_numbers,
    verify,
)
from app.invoices.vies import recheck_due as recheck_due  # re-exported: the outbox sweeper asks VIES again


class InvoiceNotPayable(Conflict):
    def __init__(self, number: str) -> None:
        super().__init__(_("Invoice %(number)s is not waiting for payment.", number=number))


class ProformaNotEditable(Conflict):
    """A paid or cancelled proforma: its billing details are settled (a tax invoice snapshots them)."""

    def __init__(self, number: str, state: str) -> None:
        messages = {
            "paid": _("Proforma %(number)s is paid: its billing details can no longer be changed.", number=number),
            "cancelled": _(
                "Proforma %(number)s is cancelled: its billing details can no longer be changed.", number=number
            ),
            "partly paid": _(
                "Proforma %(number)s is partly paid: its billing details can no longer be changed.", number=number
            ),
        }
        super().__init__(
            messages.get(state)
            or _(
                "Proforma %(number)s is %(state)s: its billing details can no longer be changed.",
                number=number,
                state=state,
            )
        )


def check_billing_editable(invoice: Invoice) -> None:
    """Raise ImmutableInvoice for a tax document, ProformaNotEditable for a proforma no longer waiting for payment."""
    if invoice.is_tax_document:
        raise ImmutableInvoice(invoice.number)
    if invoice.status is not InvoiceStatus.UNPAID:
        raise ProformaNotEditable(invoice.number, invoice.status.value)
    if invoice.amount_paid_minor:
        raise ProformaNotEditable(invoice.number, "partly paid")


#: Columns a tax invoice snapshots from its proforma (and a credit note from its invoice).
BUYER_COLUMNS = tuple(
    f"buyer_{name}"
    for name in (
        "kind",
        "name",
        "company",
        "tax_id",
        "address_line1",
        "address_line2",
        "city",
        "region",
        "postcode",
        "country",
    )
)
TOTAL_COLUMNS = ("subtotal_minor", "tax_minor", "total_minor", "tax_mode", "tax_rate_bp", "tax_note")


def _copy(source, columns) -> dict:
    return {column: getattr(source, column) for column in columns}


# --- buyers and tax ---------------------------------------------------------------


def validated_buyer(buyer: BuyerDetails) -> BuyerDetails:
    """The buyer with a canonical tax ID. Raises ValidationError(field=...)."""
    if buyer.kind is ClientKind.ORGANIZATION and not (buyer.company_name or "").strip():
        raise ValidationError(_("Enter the company name."), field="company_name")
    try:
        tax_id = normalize_tax_id(buyer.kind, buyer.country, buyer.tax_id)
    except InvalidTaxId as error:
        raise ValidationError(str(error), field="tax_id") from None
    seller_country = current_app.config["SELLER"]["country"]
    if buyer.kind is ClientKind.ORGANIZATION and buyer.country == seller_country and not tax_id:
        raise ValidationError(_("A company registered here must give its tax ID."), field="tax_id")
    return BuyerDetails(**{**buyer.__dict__, "tax_id": tax_id})


def check_vat_number(buyer: BuyerDetails) -> None:
    """Ask the EU VIES register about the buyer's VAT number if reverse charge depends on it.

    Raises ValidationError(field="tax_id") when the register says the number is
    not registered. No answer yet (or VIES down) is no error: VAT is charged
    until the number is confirmed, and the proforma is recomputed then.
    """
    if not needs_verification(buyer.kind, buyer.country, buyer.tax_id):
        return
    check = verify(buyer.tax_id)
    if check is not None and check.status is VatCheckStatus.INVALID:
        raise ValidationError(
            _(
                "The EU VIES service says %(number)s is not a registered VAT number. "
                "Check the number, or leave it empty to be billed with VAT.",
                number=buyer.tax_id,
            ),
            field="tax_id",
        )


def default_payer(client: Client) -> BillingProfile:
    """The client's default saved payer, made from the account details if none exists."""
    payer = db.session.scalar(
        sa.select(BillingProfile)
        .where(BillingProfile.client_id == client.id, BillingProfile.is_default)
        .order_by(BillingProfile.id)  # the first one, should there be several (as default_payers)
        .limit(1)
    )
    if payer is None:
        payer = BillingProfile(client_id=client.id, is_default=True, **BuyerDetails.of(client).__dict__)
        db.session.add(payer)
        db.session.flush()
    return payer


def default_payers(client_ids: list[int]) -> dict[int, Payer]:
    """default_payer for many clients at once (two statements whatever their number)."""
    rows = db.session.execute(
        sa.select(Client, BillingProfile)
        .outerjoin(BillingProfile, sa.and_(BillingProfile.client_id == Client.id, BillingProfile.is_default))
        .where(Client.id.in_(client_ids))
        .order_by(Client.id, BillingProfile.id)
    ).all()
    payers: dict[int, BillingProfile] = {}
    for client, payer in rows:
        if payer is not None:
            payers.setdefault(client.id, payer)
    missing = [client for client, payer in rows if payer is None]
    if missing:
        # Rows come back in any order (batched RETURNING): match them by client.
        new = db.session.scalars(
            sa.insert(BillingProfile).returning(BillingProfile).execution_options(render_nulls=True),
            [{"client_id": c.id, "is_default": True, **BuyerDetails.of(c).__dict__} for c in missing],
        ).all()
        payers.update({p.client_id: p for p in new})
    currency = {client.id: client.currency for client, _ in rows}
    return {cid: Payer(cid, p.id, BuyerDetails.of(p), currency[cid]) for cid, p in payers.items()}


def queued_items(client_ids: list[int]) -> dict[int, list[QueuedItem]]:
    """The clients' queued items not on a proforma yet, oldest first (one query)."""
    queued: dict[int, list[QueuedItem]] = defaultdict(list)
    for item in db.session.scalars(
        sa.select(QueuedItem)
        .where(QueuedItem.client_id.in_(client_ids), QueuedItem.invoice_id.is_(None))
        .order_by(QueuedItem.id)
    ):
        queued[item.client_id].append(item)
    return queued


def apply_buyer(invoice: Invoice, buyer: BuyerDetails) -> None:
    """Copy the buyer onto the invoice and recompute its tax and totals."""
    for column, value in buyer_columns(buyer).items():
        setattr(invoice, column, value)
    recompute_totals(invoice)


def reverse_charge_numbers(buyers) -> set[str]:
    """The buyers' VAT numbers the EU VIES register confirmed, of those reverse charge
    depends on (one query for any number of buyers: checkout and the billing run alike)."""
    return verified_numbers({b.tax_id for b in buyers if needs_verification(b.kind, b.country, b.tax_id)})


# --- proformas --------------------------------------------------------------------


def create_proforma(
    client: Client,
    lines: list[LineSpec],
    *,
    origin: ProformaOrigin,
    issue_date: date,
    due_date: date,
    payer: BillingProfile | None = None,
    include_queued_items: bool = True,
    order_key: str | None = None,
) -> Invoice:
    """A new unpaid proforma for `client` with `lines` (and its queued items).

    Holds the client's row lock, so a queued item lands on one proforma only. A
    proforma with nothing to pay (free services) is settled at once.
    """
    lock_client(client.id)
    payer = payer or default_payer(client)
    buyer = BuyerDetails.of(payer)
    queued = queued_items([client.id])[client.id] if include_queued_items else []
    proforma = build_proforma(
        Payer(client.id, payer.id, buyer, client.currency),
        [*lines, *(LineSpec(item.description, item.amount_minor) for item in queued)],
        number=take_number(DocumentKind.PROFORMA, issue_date.year),
        origin=origin,
        issue_date=issue_date,
        due_date=due_date,
        vat_verified=buyer.tax_id in reverse_charge_numbers([buyer]),
        order_key=order_key,
    ).to_invoice()
    db.session.add(proforma)
    db.session.flush()
    for item in queued:
        item.invoice_id = proforma.id
    emit("proformas_issued", proforma_ids=[proforma.id], origin=origin.value)
    if proforma.total_minor <= 0:
        settle_proforma(proforma, paid_at=utcnow())
    return proforma


def update_billing_details(invoice: Invoice, buyer: BuyerDetails, *, save_as_payer: bool = False) -> Invoice:
    """Bill an unpaid proforma to other details; totals follow the tax treatment.

    Raises ImmutableInvoice for a tax document, InvoiceNotPayable for a paid or
    cancelled proforma, ValidationError for bad details.
    """
    if invoice.is_tax_document:
        raise ImmutableInvoice(invoice.number)
    buyer = validated_buyer(buyer)
    # Before the locks: the check may run right here as a job with a session of its own.
    check_vat_number(buyer)
    # Lock as a payment does (client, then invoice): a payment cannot slip in between.
    lock_client(invoice.client_id)
    db.session.refresh(invoice, with_for_update=True)
    if invoice.status is not InvoiceStatus.UNPAID or invoice.amount_paid_minor:
        raise InvoiceNotPayable(invoice.number)
    if save_as_payer:
        payer = BillingProfile(client_id=invoice.client_id, **buyer.__dict__)
        db.session.add(payer)
        db.session.flush()
        invoice.payer_id = payer.id
    apply_buyer(invoice, buyer)
    db.session.flush()
    return invoice


def choose_payer(invoice: Invoice, payer_id: int) -> Invoice:
    """Bill a proforma to one of the client's saved payers. Raises like update_billing_details."""
    payer = db.session.scalar(
        sa.select(BillingProfile).where(BillingProfile.id == payer_id, BillingProfile.client_id == invoice.client_id)
    )
    if payer is None:
        raise ValidationError(_("Choose one of your saved payers."), field="payer_id")
    update_billing_details(invoice, BuyerDetails.of(payer))
    invoice.payer_id = payer.id
    return invoice


# --- payment ----------------------------------------------------------------------


def record_payment(invoice_id: int, amount_minor: int, *, paid_at: datetime | None = None) -> Invoice | None:
    """Apply `amount_minor` to an unpaid proforma, under the client's row lock.

    When the proforma is paid in full it is settled (see settle_proforma) and
    the new tax invoice is returned; otherwise None. Raises InvoiceNotPayable
    for a paid, cancelled or tax document, ValidationError for a bad amount.
    """
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None:
        raise DomainError("There is no such invoice.")
    lock_client(invoice.client_id)
    db.session.refresh(invoice, with_for_update=True)
    if invoice.kind is not DocumentKind.PROFORMA or invoice.status is not InvoiceStatus.UNPAID:
        raise InvoiceNotPayable(invoice.number)
    if amount_minor <= 0 or amount_minor > invoice.balance_due_minor:
        raise ValidationError("The payment must be more than zero and at most the amount due.", field="amount")
    invoice.amount_paid_minor += amount_minor
    if invoice.amount_paid_minor < invoice.total_minor:
        db.session.flush()
        return None
    return settle_proforma(invoice, paid_at=paid_at or utcnow())


def _ron_rate(currency: str) -> dict:
    """The RON exchange rate a tax invoice in `currency` records (for its VAT in RON on the e-invoice)."""
    rate = current_app.config["RON_EXCHANGE_RATES"].get(currency) if currency != "RON" else None
    return {"ron_rate": str(rate)} if rate else {}


def settle_proforma(proforma: Invoice, *, paid_at: datetime) -> Invoice:
    """Mark a fully paid proforma paid and issue its tax invoice; the `invoice_paid`
    event has its services renewed (app.hosting.handlers) and the receipt written.

    Call with the client's row locked (record_payment does). The tax invoice's
    number is taken here, inside the paying transaction.
    """
    paid_on = local_date(paid_at)  # the seller's calendar day: the invoice's date and number year
    proforma.status = InvoiceStatus.PAID
    proforma.paid_at = paid_at
    proforma.amount_paid_minor = proforma.total_minor
    tax_invoice = Invoice(
        client_id=proforma.client_id,
        kind=DocumentKind.TAX_INVOICE,
        number=take_number(DocumentKind.TAX_INVOICE, paid_on.year),
        status=InvoiceStatus.PAID,
        origin=proforma.origin,
        currency=proforma.currency,
        issue_date=paid_on,
        due_date=paid_on,
        source_id=proforma.id,
        paid_at=paid_at,
        amount_paid_minor=proforma.total_minor,
        payer_id=proforma.payer_id,
        seller=dict(proforma.seller) | _ron_rate(proforma.currency),
        **_copy(proforma, TOTAL_COLUMNS + BUYER_COLUMNS),
    )
    tax_invoice.lines = [
        InvoiceLine(
            **{
                column: getattr(line, column)
                for column in [
                    "position",
                    "description",
                    "group_name",
                    "service_id",
                    "period_start",
                    "period_end",
                    "quantity",
                    "unit_price_minor",
                    "amount_minor",
                    "tax_rate_bp",
                ]
            }
        )
        for line in proforma.lines
    ]
    db.session.add(tax_invoice)
    db.session.flush()
    emit("invoice_paid", proforma_id=proforma.id, tax_invoice_id=tax_invoice.id)
    return tax_invoice


# --- credit notes -----------------------------------------------------------------


@dataclass(frozen=True)
class LineCredit:
    """Credit `quantity` of the tax invoice's line `line_id` (None: all of it that is left)."""

    line_id: int
    quantity: int | None = None


@dataclass(frozen=True)
class CreditLeft:
    """What is left to credit on a tax invoice, after its earlier credit notes (positive amounts)."""

    subtotal_minor: int
    tax_minor: int
    total_minor: int
    quantity: dict[int, int]  # per invoice line id: the quantity not credited yet
    amount: dict[int, int]  # per invoice line id: the amount not credited yet
    by_amount: bool  # an earlier credit note credited an amount, not lines


class CreditChanged(Conflict):
    def __init__(self, number: str) -> None:
        super().__init__(
            f"A credit note for invoice {number} was issued meanwhile (a second submit?): "
            "nothing more was credited. Check what is left and submit again if needed."
        )


def credit_notes_of(tax_invoice: Invoice) -> list[Invoice]:
    """The credit notes issued for `tax_invoice`, oldest first."""
    return list(
        db.session.scalars(
            sa.select(Invoice)
            .where(Invoice.kind == DocumentKind.CREDIT_NOTE, Invoice.source_id == tax_invoice.id)
            .order_by(Invoice.id)
        )
    )


def credit_left(tax_invoice: Invoice) -> CreditLeft:
    """What `tax_invoice` still can be credited: the sum of its credit notes counts."""
    notes = credit_notes_of(tax_invoice)
    quantity = {line.id: line.quantity for line in tax_invoice.lines}
    amount = {line.id: line.amount_minor for line in tax_invoice.lines}
    by_amount = False
    for note in notes:
        for line in note.lines:
            if line.credited_line_id in quantity:
                quantity[line.credited_line_id] -= line.quantity
                amount[line.credited_line_id] += line.amount_minor  # negative on the note
            else:
                by_amount = True
    return CreditLeft(
        subtotal_minor=tax_invoice.subtotal_minor + sum(n.subtotal_minor for n in notes),
        tax_minor=tax_invoice.tax_minor + sum(n.tax_minor for n in notes),
        total_minor=tax_invoice.total_minor + sum(n.total_minor for n in notes),
        quantity=quantity,
        amount=amount,
        by_amount=by_amount,
    )


def issue_credit_note(
    tax_invoice: Invoice,
    *,
    reason: str,
    lines: list[LineCredit] | None = None,
    amount_minor: int | None = None,
    issued_at: datetime | None = None,
    actor: Actor | None = None,
    expected_left_minor: int | None = None,
) -> Invoice:
    """A credit note (a negative tax document, number from the CN series) correcting `tax_invoice`.

    Three ways, as a Romanian (or any EU) accountant issues a "factura de stornare":

    - whole (neither `lines` nor `amount_minor`): what is left of the invoice, line by line
      (or, after an earlier credit by amount, as one line for the rest);
    - by line (`lines`): some lines, each in full or a quantity of it, at the line's price;
    - by amount (`amount_minor`, VAT included: what the client gets back): ONE adjustment
      line "Adjustment of invoice F-..." at the invoice's VAT rate, not the sum spread over
      the lines. A partial refund or discount is a reduction of the taxable amount (VAT
      Directive art. 90, Romanian Fiscal Code art. 287): the document must name the invoice
      it corrects and show the base and the VAT reduced at the rate first applied; a single
      line says exactly that, while spreading it leaves a rounding cent on every line and
      suggests services were partly returned when they were not. The amount is split into
      base and VAT (the base rounded half up, VAT the rest), never beyond what is left.

    Never more than is left to credit (earlier credit notes count). Holds the client's row
    lock, so two credit notes at once cannot both take what is left. `actor` (staff) is
    audited as "invoice.credit_note". `expected_left_minor`: what the staff member saw left
    to credit; another credit note since (a double submit) raises CreditChanged and issues
    nothing. Raises DomainError when the invoice is not a tax invoice or is already fully
    credited, ValidationError (field "reason", "lines" or "amount") for a missing reason, an
    unknown line, a quantity or amount beyond what is left.
    """
    if tax_invoice.kind is not DocumentKind.TAX_INVOICE:
        raise DomainError("Only a tax invoice can be credited.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Give the reason for the credit note.", field="reason")
    lock_client(tax_invoice.client_id)
    left = credit_left(tax_invoice)
    if expected_left_minor is not None and expected_left_minor != left.total_minor:
        raise CreditChanged(tax_invoice.number)
    if left.total_minor <= 0:
        raise DomainError(f"Invoice {tax_invoice.number} is already fully credited.")
    if amount_minor is not None:
        credit_lines, subtotal, tax = _credit_by_amount(tax_invoice, left, amount_minor)
    elif lines:
        credit_lines, subtotal, tax = _credit_by_lines(tax_invoice, left, lines)
    elif left.by_amount:
        credit_lines, subtotal, tax = _credit_by_amount(tax_invoice, left, left.total_minor)
    else:
        whole = [LineCredit(line.id) for line in tax_invoice.lines if left.quantity[line.id] > 0]
        credit_lines, subtotal, tax = _credit_by_lines(tax_invoice, left, whole)
    issued_on = local_date(issued_at or utcnow())
    note = Invoice(
        client_id=tax_invoice.client_id,
        kind=DocumentKind.CREDIT_NOTE,
        number=take_number(DocumentKind.CREDIT_NOTE, issued_on.year),
        status=InvoiceStatus.ISSUED,
        currency=tax_invoice.currency,
        issue_date=issued_on,
        due_date=issued_on,
        source_id=tax_invoice.id,
        subtotal_minor=-subtotal,
        tax_minor=-tax,
        total_minor=-(subtotal + tax),
        tax_mode=tax_invoice.tax_mode,
        tax_rate_bp=tax_invoice.tax_rate_bp,
        tax_note=tax_invoice.tax_note,
        credit_reason=reason[:255],
        seller=dict(tax_invoice.seller),
        **_copy(tax_invoice, ("payer_id", *BUYER_COLUMNS)),
    )
    note.lines = credit_lines
    db.session.add(note)
    db.session.flush()
    emit("credit_note_issued", credit_note_id=note.id, tax_invoice_id=tax_invoice.id)
    if actor is not None:
        audit.record(
            actor,
            "invoice.credit_note",
            client_id=tax_invoice.client_id,
            target=f"invoice:{tax_invoice.id}",
            old=f"{tax_invoice.number}: {left.total_minor} {tax_invoice.currency} left to credit",
            new=f"{note.number}: {note.total_minor} {note.currency}: {reason}",
        )
    return note


def _credit_by_lines(tax_invoice: Invoice, left: CreditLeft, credits: list[LineCredit]):
    """The credit note's lines for `credits`, with their subtotal and VAT (positive)."""
    by_id = {line.id: line for line in tax_invoice.lines}
    note_lines: list[InvoiceLine] = []
    for credit in credits:
        line = by_id.get(credit.line_id)
        if line is None:
            raise ValidationError("Choose lines of this invoice.", field="lines")
        quantity = left.quantity[line.id] if credit.quantity is None else credit.quantity
        if quantity <= 0 or quantity > left.quantity[line.id] or left.amount[line.id] <= 0:
            raise ValidationError(
                f"Line {line.position} ({line.description}) has {max(left.quantity[line.id], 0)} left to credit.",
                field="lines",
            )
        # The rest of a line is what is left of its amount: no cent lost to rounding.
        amount = left.amount[line.id] if quantity == left.quantity[line.id] else line.unit_price_minor * quantity
        note_lines.append(
            InvoiceLine(
                position=line.position,
                description=line.description,
                group_name=line.group_name,
                service_id=line.service_id,
                period_start=line.period_start,
                period_end=line.period_end,
                quantity=quantity,
                unit_price_minor=-line.unit_price_minor,
                amount_minor=-amount,
                tax_rate_bp=line.tax_rate_bp,
                credited_line_id=line.id,
            )
        )
    if not note_lines:
        raise ValidationError("Choose at least one line to credit.", field="lines")
    subtotal = sum(-line.amount_minor for line in note_lines)
    if subtotal >= left.subtotal_minor:
        tax = left.tax_minor  # the rest of the invoice: its VAT exactly
    else:
        rates = [(-line.amount_minor, line.tax_rate_bp) for line in note_lines]
        tax = min(tax_by_rate(rates, tax_invoice.tax_rate_bp, tax_invoice.tax_mode), left.tax_minor)
    if subtotal + tax > left.total_minor:
        raise ValidationError(_only_left(tax_invoice, left), field="lines")
    return note_lines, subtotal, tax


def _credit_by_amount(tax_invoice: Invoice, left: CreditLeft, amount_minor: int):
    """One adjustment line for `amount_minor` (VAT included), with its base and VAT (positive)."""
    if amount_minor <= 0:
        raise ValidationError("Enter an amount above zero.", field="amount")
    if amount_minor > left.total_minor:
        raise ValidationError(_only_left(tax_invoice, left), field="amount")
    if len(vat_breakdown(tax_invoice)) > 1:
        # One adjustment line has one rate: an amount would have to be split between the
        # rates, and which part is which is the accountant's call, not ours.
        raise ValidationError("This invoice has more than one VAT rate: credit it by line.", field="amount")
    if amount_minor == left.total_minor:
        subtotal, tax = left.subtotal_minor, left.tax_minor
    else:
        divisor = 10000 + tax_invoice.tax_rate_bp
        subtotal = (amount_minor * 10000 * 2 + divisor) // (2 * divisor)  # half up
        tax = amount_minor - subtotal
        if tax > left.tax_minor:
            tax = left.tax_minor
            subtotal = amount_minor - tax
        if subtotal > left.subtotal_minor:
            subtotal = left.subtotal_minor
            tax = amount_minor - subtotal
    line = InvoiceLine(
        position=1,
        description=f"Adjustment of invoice {tax_invoice.number}",
        quantity=1,
        unit_price_minor=-subtotal,
        amount_minor=-subtotal,
    )
    return [line], subtotal, tax


def _only_left(tax_invoice: Invoice, left: CreditLeft) -> str:
    return (
        f"Only {format_money(left.total_minor, tax_invoice.currency)} is left to credit "
        f"on invoice {tax_invoice.number}."
    )


def client_invoice(client_id: int, number: str) -> Invoice | None:
    """The invoice `number` if it belongs to `client_id`."""
    return db.session.scalar(sa.select(Invoice).where(Invoice.client_id == client_id, Invoice.number == number))


def unpaid_proformas(client_id: int, *, limit: int = 5) -> list[Invoice]:
    """A client's unpaid proformas, the earliest due first."""
    return list(
        db.session.scalars(
            sa.select(Invoice)
            .where(
                Invoice.client_id == client_id,
                Invoice.kind == DocumentKind.PROFORMA,
                Invoice.status == InvoiceStatus.UNPAID,
            )
            .order_by(Invoice.due_date, Invoice.id)
            .limit(limit)
        )
    )


# --- abandoned orders ----------------------------------------------------------------


def cancel_abandoned_orders(run_date: date) -> list[int]:
    """Cancel order proformas still unpaid ORDER_CANCEL_DAYS after their due date
    (nothing paid on them); hosting cancels the services they ordered
    (app.hosting.lifecycle.cancel_ordered_services). Returns the proformas' ids.
    0 days: orders wait forever."""
    days = current_app.config["ORDER_CANCEL_DAYS"]
    if not days:
        return []
    abandoned = (
        Invoice.kind == DocumentKind.PROFORMA,
        Invoice.origin == ProformaOrigin.ORDER,
        Invoice.status == InvoiceStatus.UNPAID,
        Invoice.amount_paid_minor == 0,
        Invoice.due_date <= add_days(run_date, -days),
    )
    # Clients first, in id order: the lock order payments use.
    db.session.execute(
        sa.select(Client.id)
        .where(Client.id.in_(sa.select(Invoice.client_id).where(*abandoned)))
        .order_by(Client.id)
        .with_for_update()
    ).all()
    cancelled = db.session.scalars(
        sa.update(Invoice)
        .where(*abandoned)
        .values(status=InvoiceStatus.CANCELLED)
        .returning(Invoice.id)
        .execution_options(synchronize_session=False)
    ).all()
    if cancelled:
        release_queued_items(cancelled)
    return list(cancelled)


def release_queued_items(cancelled_ids) -> None:
    """Queued items on a cancelled proforma wait for the client's next one."""
    db.session.execute(
        sa.update(QueuedItem)
        .where(QueuedItem.invoice_id.in_(list(cancelled_ids)))
        .values(invoice_id=None)
        .execution_options(synchronize_session=False)
    )


def convert_open_proformas(client_id: int, currency: str, rate: Decimal | None) -> list[Invoice]:
    """Move the client's unpaid proformas to `currency` (a currency change): at `rate` their
    lines are recalculated (half-up in minor units) and the tax and totals with them; with no
    rate the figures stay as they are. Tax invoices and credit notes are never touched.
    Raises Conflict for a partly paid proforma (its payment was in the old currency).
    Call with the client locked; flushes."""
    proformas = db.session.scalars(
        sa.select(Invoice)
        .where(
            Invoice.client_id == client_id,
            Invoice.kind == DocumentKind.PROFORMA,
            Invoice.status == InvoiceStatus.UNPAID,
        )
        .order_by(Invoice.id)
    ).all()
    partly_paid = [proforma.number for proforma in proformas if proforma.amount_paid_minor]
    if partly_paid:
        raise Conflict(
            f"Proforma {', '.join(partly_paid)} is partly paid in {proformas[0].currency}: "
            "settle or cancel it before changing the currency."
        )
    for proforma in proformas:
        if rate is not None:
            for line in proforma.lines:
                exact = line.amount_minor == line.unit_price_minor * line.quantity
                line.unit_price_minor = convert_minor(line.unit_price_minor, proforma.currency, currency, rate)
                line.amount_minor = (
                    line.unit_price_minor * line.quantity
                    if exact
                    else convert_minor(line.amount_minor, proforma.currency, currency, rate)
                )
        proforma.currency = currency
        recompute_totals(proforma)
    db.session.flush()
    return list(proformas)


def cancel_unpaid_proformas(client_id: int) -> list[int]:
    """Cancel the client's unpaid proformas with nothing paid on them (closing an account);
    their queued items go back to the queue. Part-paid ones stay: money is on them.
    The caller holds the client's row lock. Returns the proformas' ids."""
    cancelled = db.session.scalars(
        sa.update(Invoice)
        .where(
            Invoice.client_id == client_id,
            Invoice.kind == DocumentKind.PROFORMA,
            Invoice.status == InvoiceStatus.UNPAID,
            Invoice.amount_paid_minor == 0,
        )
        .values(status=InvoiceStatus.CANCELLED)
        .returning(Invoice.id)
        .execution_options(synchronize_session=False)
    ).all()
    if cancelled:
        release_queued_items(cancelled)
    return list(cancelled)
