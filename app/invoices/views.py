"""My invoices: list, view, PDF and billing details of a proforma."""

from __future__ import annotations

import re
from datetime import date

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_login import current_user

from app.clients.models import ClientKind
from app.core.errors import ValidationError
from app.core.form_actions import run_form_action
from app.core.pagination import Keyset, keyset_page, page_redirect
from app.core.pdf import render_pdf
from app.core.rendering import redirect_to, render_page
from app.core.sql import insert_ignoring_conflicts
from app.core.types import utcnow
from app.extensions import db
from app.invoices.forms import BillingDetailsForm
from app.invoices.models import BillingProfile, DocumentKind, Invoice, InvoicePdf, InvoiceStatus
from app.invoices.services import (
    BuyerDetails,
    check_billing_editable,
    choose_payer,
    client_invoice,
    credit_notes_of,
    update_billing_details,
)
from app.invoices.vies import vat_notice

bp = Blueprint("invoices", __name__)

#: The list's filters: what a customer means by each word. "All" is every document of the
#: client: a paid proforma stays listed beside the tax invoice issued from it.
FILTERS = {
    "all": sa.true(),
    "unpaid": sa.and_(Invoice.kind == DocumentKind.PROFORMA, Invoice.status == InvoiceStatus.UNPAID),
    "paid": Invoice.kind.in_([DocumentKind.TAX_INVOICE, DocumentKind.CREDIT_NOTE]),
    "cancelled": Invoice.status == InvoiceStatus.CANCELLED,
}


#: The list's order, newest first: by issue date, then by id among the same day's.
INVOICE_ORDER = Keyset((Invoice.issue_date, Invoice.id), (date, int))


def get_owned_invoice_or_404(number: str) -> Invoice:
    """The current client's invoice `number`; another client's is a 404."""
    invoice = client_invoice(current_user.client_id, number)
    if invoice is None:
        abort(404)
    return invoice


@bp.route("/invoices")
def index():
    status = request.args.get("status", "all")
    if status not in FILTERS:
        status = "all"
    old_bookmark = page_redirect("invoices.index", keep=("status",))
    if old_bookmark is not None:
        return old_bookmark
    query = sa.select(Invoice).where(Invoice.client_id == current_user.client_id, FILTERS[status])
    page = keyset_page(query, INVOICE_ORDER, per_page=current_app.config["INVOICES_PER_PAGE"])
    return render_page("invoices/index.html", "invoices/_list.html", page=page, status=status)


@bp.route("/invoices/<number>")
def view(number: str):
    invoice = get_owned_invoice_or_404(number)
    tax_invoice = None
    if invoice.kind is DocumentKind.PROFORMA and invoice.status is InvoiceStatus.PAID:
        tax_invoice = db.session.scalar(
            sa.select(Invoice).where(Invoice.source_id == invoice.id, Invoice.kind == DocumentKind.TAX_INVOICE)
        )
    credit_notes = credit_notes_of(invoice) if invoice.kind is DocumentKind.TAX_INVOICE else []
    return render_template(
        "invoices/view.html",
        invoice=invoice,
        tax_invoice=tax_invoice,
        credit_notes=credit_notes,
        vat_notice=vat_notice(invoice),
    )


@bp.route("/invoices/<number>/pdf")
def pdf(number: str):
    invoice = get_owned_invoice_or_404(number)
    content = invoice_pdf_bytes(invoice)
    filename = re.sub(r"[^A-Za-z0-9-]", "", invoice.number) or "invoice"
    return current_app.response_class(
        content,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}.pdf"'},
    )


def invoice_pdf_bytes(invoice: Invoice) -> bytes:
    """A tax document's PDF is rendered once and kept; a proforma's is rendered each time."""
    if invoice.is_tax_document:
        stored = db.session.get(InvoicePdf, invoice.id)
        if stored is not None:
            return stored.content
    content = render_pdf(render_template("pdf/invoice.html", invoice=invoice))
    if invoice.is_tax_document:
        # Two first downloads at once: the first stored copy wins, both get it.
        insert_ignoring_conflicts(InvoicePdf, {"invoice_id": invoice.id, "content": content, "created_at": utcnow()})
        db.session.commit()
        content = db.session.get(InvoicePdf, invoice.id, populate_existing=True).content
    return content


@bp.route("/invoices/<number>/billing", methods=["GET", "POST"])
def billing(number: str):
    invoice = get_owned_invoice_or_404(number)
    check_billing_editable(invoice)  # a clear 409 page, never a form that cannot be saved
    payers = db.session.scalars(
        sa.select(BillingProfile).where(BillingProfile.client_id == invoice.client_id).order_by(BillingProfile.id)
    ).all()
    form = BillingDetailsForm(payers, obj=None if request.method == "POST" else _form_defaults(invoice))
    if form.validate_on_submit():
        result = run_form_action(form, lambda: _save_billing(invoice, form), catch=ValidationError, unplaced="payer")
        if result.ok:
            return redirect_to(url_for("invoices.view", number=invoice.number))
    status = 422 if form.is_submitted() else 200
    return render_page(
        "invoices/billing.html",
        "invoices/_billing_form.html",
        status,
        form=form,
        invoice=invoice,
        vat_notice=vat_notice(invoice),
    )


def _save_billing(invoice: Invoice, form: BillingDetailsForm) -> Invoice:
    if form.new_details:
        return update_billing_details(invoice, _buyer_from(form), save_as_payer=form.save_as_payer.data)
    return choose_payer(invoice, int(form.payer.data))


class _Defaults:
    def __init__(self, **values):
        self.__dict__.update(values)


def _form_defaults(invoice: Invoice) -> _Defaults:
    return _Defaults(
        payer=str(invoice.payer_id) if invoice.payer_id else "new",
        kind=invoice.buyer_kind.value,
        name=invoice.buyer_name,
        company_name=invoice.buyer_company,
        tax_id=invoice.buyer_tax_id,
        address_line1=invoice.buyer_address_line1,
        address_line2=invoice.buyer_address_line2,
        city=invoice.buyer_city,
        region=invoice.buyer_region,
        postcode=invoice.buyer_postcode,
        country=invoice.buyer_country,
        save_as_payer=False,
    )


def _buyer_from(form: BillingDetailsForm) -> BuyerDetails:
    return BuyerDetails(
        kind=ClientKind(form.kind.data),
        name=form.name.data,
        company_name=form.company_name.data or None,
        tax_id=form.tax_id.data or None,
        address_line1=form.address_line1.data or None,
        address_line2=form.address_line2.data or None,
        city=form.city.data or None,
        region=form.region.data or None,
        postcode=form.postcode.data or None,
        country=form.country.data,
    )
