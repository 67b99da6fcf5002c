"""The client's e-invoice download: a tax invoice's or credit note's UBL XML, beside its PDF."""

from __future__ import annotations

import re

from flask import Blueprint, abort, current_app
from flask_login import current_user

from app.einvoice.ubl import document_xml
from app.invoices.models import TAX_DOCUMENTS
from app.invoices.services import client_invoice

bp = Blueprint("einvoice", __name__)


@bp.route("/invoices/<number>/xml")
def xml(number: str):
    """The document's XML (RO e-Factura, CIUS-RO); a proforma has none, another client's is a 404."""
    invoice = client_invoice(current_user.client_id, number)
    if invoice is None or invoice.kind not in TAX_DOCUMENTS:
        abort(404)
    filename = re.sub(r"[^A-Za-z0-9-]", "", invoice.number) or "invoice"
    return current_app.response_class(
        document_xml(invoice),
        mimetype="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{filename}.xml"'},
    )
