"""What the dashboard counts. Reads only."""

from __future__ import annotations

import sqlalchemy as sa

from app.clients.models import User, UserRole
from app.extensions import db
from app.hosting.models import Service, ServiceStatus
from app.invoices.models import DocumentKind, Invoice, InvoiceStatus


def _services(client_id: int, status: ServiceStatus):
    return (
        sa.select(sa.func.count())
        .select_from(Service)
        .where(Service.client_id == client_id, Service.status == status)
        .scalar_subquery()
    )


def dashboard_counts(client_id: int) -> dict[str, int]:
    """What the dashboard summarizes: services, unpaid proformas and the amount due.
    One statement (each count an indexed subquery of the client's rows), not one per tile."""
    unpaid = sa.select(Invoice).where(
        Invoice.client_id == client_id,
        Invoice.kind == DocumentKind.PROFORMA,
        Invoice.status == InvoiceStatus.UNPAID,
    )
    row = db.session.execute(
        sa.select(
            _services(client_id, ServiceStatus.ACTIVE).label("active_services"),
            _services(client_id, ServiceStatus.SUSPENDED).label("suspended_services"),
            _services(client_id, ServiceStatus.PENDING).label("pending_services"),
            unpaid.with_only_columns(sa.func.count()).scalar_subquery().label("unpaid_invoices"),
            unpaid.with_only_columns(sa.func.coalesce(sa.func.sum(Invoice.total_minor - Invoice.amount_paid_minor), 0))
            .scalar_subquery()
            .label("amount_due_minor"),
            sa.select(sa.func.count(User.id))
            .where(User.client_id == client_id, User.role == UserRole.TRUSTED)
            .scalar_subquery()
            .label("trusted_users"),
        )
    ).one()
    return {key: int(value or 0) for key, value in row._mapping.items()}
