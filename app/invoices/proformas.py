"""How a proforma is built, once for checkout and the billing run: its buyer, lines, tax and totals.

Builds rows and objects only; it reads and writes nothing in the database (the
callers load the payer and the VIES verdicts, in one query or in bulk).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date

from flask import current_app

from app.clients.models import Client, ClientKind
from app.core.types import utcnow
from app.invoices.models import BillingProfile, DocumentKind, Invoice, InvoiceLine, InvoiceStatus, ProformaOrigin
from app.invoices.tax import tax_by_rate, tax_treatment


@dataclass(frozen=True)
class BuyerDetails:
    """Who an invoice is billed to."""

    kind: ClientKind
    name: str
    country: str
    company_name: str | None = None
    tax_id: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    region: str | None = None
    postcode: str | None = None

    @classmethod
    def of(cls, source: Client | BillingProfile) -> BuyerDetails:
        return cls(**{f.name: getattr(source, f.name) for f in fields(cls)})


@dataclass(frozen=True)
class LineSpec:
    description: str
    unit_price_minor: int
    quantity: int = 1
    service_id: int | None = None
    group_name: str | None = None
    period_start: date | None = None
    period_end: date | None = None
    tax_rate_bp: int | None = None  # a VAT rate of its own (None: the document's rate)


def buyer_columns(buyer: BuyerDetails) -> dict[str, object]:
    """The invoice's buyer_* columns for `buyer`, for orders and renewals alike:
    a private person is billed without a company, whatever name is still stored."""
    return {
        "buyer_kind": buyer.kind,
        "buyer_name": buyer.name,
        "buyer_company": buyer.company_name if buyer.kind is ClientKind.ORGANIZATION else None,
        "buyer_tax_id": buyer.tax_id,
        **{
            f"buyer_{part}": getattr(buyer, part)
            for part in ("address_line1", "address_line2", "city", "region", "postcode", "country")
        },
    }


def tax_and_totals(
    buyer_kind: ClientKind,
    buyer_country: str,
    buyer_tax_id: str | None,
    subtotal_minor: int,
    *,
    vat_verified: bool,
    line_rates: list[tuple[int, int | None]] | None = None,
) -> dict[str, object]:
    """The invoice's tax and total columns for its buyer and subtotal (reverse charge
    only for a VAT number the EU VIES register confirmed: `vat_verified`).

    `line_rates`: the lines as (amount_minor, own VAT rate or None) when some line has a
    rate of its own; the VAT is then rounded once per rate (app.invoices.tax.vat_breakdown)."""
    config = current_app.config
    treatment = tax_treatment(
        buyer_kind=buyer_kind,
        buyer_country=buyer_country,
        buyer_tax_id=buyer_tax_id,
        seller_country=config["SELLER"]["country"],
        rates=config["VAT_RATES"],
        vat_verified=vat_verified,
    )
    tax = tax_by_rate(line_rates or [(subtotal_minor, None)], treatment.rate_bp, treatment.mode)
    return {
        "subtotal_minor": subtotal_minor,
        "tax_minor": tax,
        "total_minor": subtotal_minor + tax,
        "tax_mode": treatment.mode,
        "tax_rate_bp": treatment.rate_bp,
        "tax_note": treatment.note,
    }


@dataclass(frozen=True)
class Payer:
    """Whom a client's proforma is billed to: the saved payer's id and details, in the client's currency."""

    client_id: int
    payer_id: int
    buyer: BuyerDetails
    currency: str


@dataclass(frozen=True)
class ProformaDraft:
    """A proforma's row and its lines' rows (without invoice_id), ready to insert."""

    columns: dict[str, object]
    lines: list[dict[str, object]]

    def to_invoice(self) -> Invoice:
        """The proforma as a new Invoice with its InvoiceLines (for one; the billing run inserts rows)."""
        invoice = Invoice(**self.columns)
        invoice.lines = [InvoiceLine(**line) for line in self.lines]
        return invoice


def build_proforma(
    payer: Payer,
    lines: list[LineSpec],
    *,
    number: str,
    origin: ProformaOrigin,
    issue_date: date,
    due_date: date,
    vat_verified: bool,
    order_key: str | None = None,
) -> ProformaDraft:
    """An unpaid proforma billed to `payer` with `lines` (positions from 1, in order)."""
    rows = [
        {
            "position": position,
            "description": spec.description,
            "group_name": spec.group_name,
            "service_id": spec.service_id,
            "period_start": spec.period_start,
            "period_end": spec.period_end,
            "quantity": spec.quantity,
            "unit_price_minor": spec.unit_price_minor,
            "amount_minor": spec.unit_price_minor * spec.quantity,
        }
        for position, spec in enumerate(lines, start=1)
    ]
    line_rates = None
    if any(spec.tax_rate_bp is not None for spec in lines):
        # Only then: the billing run inserts its rows column by column, all rows alike.
        for row, spec in zip(rows, lines, strict=True):
            row["tax_rate_bp"] = spec.tax_rate_bp
        line_rates = [(row["amount_minor"], spec.tax_rate_bp) for row, spec in zip(rows, lines, strict=True)]
    buyer = payer.buyer
    subtotal = sum(row["amount_minor"] for row in rows)
    columns = {
        "client_id": payer.client_id,
        "kind": DocumentKind.PROFORMA,
        "number": number,
        "status": InvoiceStatus.UNPAID,
        "origin": origin,
        "currency": payer.currency,
        "issue_date": issue_date,
        "due_date": due_date,
        "amount_paid_minor": 0,
        "payer_id": payer.payer_id,
        "seller": dict(current_app.config["SELLER"]),
        "order_key": order_key,
        "created_at": utcnow(),
        **buyer_columns(buyer),
        **tax_and_totals(
            buyer.kind, buyer.country, buyer.tax_id, subtotal, vat_verified=vat_verified, line_rates=line_rates
        ),
    }
    return ProformaDraft(columns, rows)
