"""What the dashboard counts. Reads only."""

from __future__ import annotations

import sqlalchemy as sa

from app.clients.models import User, UserRole
from app.extensions import db
from app.hosting.models import Service, ServiceStatus
from app.invoices.models import DocumentKind, Invoice, InvoiceStatus


def dashboard_counts(client_id: int) -> dict[str, int]:
    """What the dashboard summarizes: services, unpaid proformas and the amount due."""
    services = db.session.execute(
        sa.select(Service.status, sa.func.count()).where(Service.client_id == client_id).group_by(Service.status)
    ).all()
    by_status = {status: count for status, count in services}
    unpaid = db.session.execute(
        sa.select(
            sa.func.count(), sa.func.coalesce(sa.func.sum(Invoice.total_minor - Invoice.amount_paid_minor), 0)
        ).where(
            Invoice.client_id == client_id,
            Invoice.kind == DocumentKind.PROFORMA,
            Invoice.status == InvoiceStatus.UNPAID,
        )
    ).one()
    return {
        "active_services": by_status.get(ServiceStatus.ACTIVE, 0),
        "suspended_services": by_status.get(ServiceStatus.SUSPENDED, 0),
        "pending_services": by_status.get(ServiceStatus.PENDING, 0),
        "unpaid_invoices": unpaid[0],
        "amount_due_minor": unpaid[1],
        "trusted_users": db.session.scalar(
            sa.select(sa.func.count(User.id)).where(User.client_id == client_id, User.role == UserRole.TRUSTED)
        ),
    }
