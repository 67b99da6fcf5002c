"""One client on one page (/admin/clients/<id>): the header, the billing contact and the
summary. The tabs (contacts, orders, services, invoices, transactions, messages, logs,
settings) are still to come."""

from __future__ import annotations

import sqlalchemy as sa
from flask import render_template

from app.admin.blueprint import bp
from app.clients.models import Client
from app.core.dates import today
from app.extensions import db
from app.hosting.models import Service
from app.invoices.models import DocumentKind, Invoice, InvoiceStatus
from app.wallet.models import BankTransfer, Payment, PaymentStatus, TransferStatus


def _summary(client: Client) -> dict:
    """The money and services at a glance, in a fixed number of queries."""
    owed = Invoice.total_minor - Invoice.amount_paid_minor
    unpaid = (
        Invoice.client_id == client.id,
        Invoice.kind == DocumentKind.PROFORMA,
        Invoice.status == InvoiceStatus.UNPAID,
    )
    unpaid_total, overdue_total = db.session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(owed), 0),
            sa.func.coalesce(sa.func.sum(sa.case((Invoice.due_date < today(), owed), else_=0)), 0),
        ).where(*unpaid)
    ).one()
    services = dict(
        db.session.execute(
            sa.select(Service.status, sa.func.count()).where(Service.client_id == client.id).group_by(Service.status)
        ).all()
    )
    income = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Payment.amount_minor), 0)).where(
            Payment.client_id == client.id, Payment.status == PaymentStatus.SUCCEEDED
        )
    )
    transfers = db.session.scalar(
        sa.select(sa.func.count()).where(
            BankTransfer.client_id == client.id, BankTransfer.status == TransferStatus.PENDING
        )
    )
    return {
        "unpaid": unpaid_total,
        "overdue": overdue_total,
        "services": services,
        "income": income,
        "transfers_to_review": transfers,
    }


@bp.route("/clients/<int:client_id>")
def client(client_id: int):
    client = db.get_or_404(Client, client_id)
    return render_template("admin/client.html", client=client, owner=client.owner, summary=_summary(client))
