"""Every admin page, each module registering its routes on the one blueprint."""

from __future__ import annotations

from app.admin import (  # noqa: F401  (their routes)
    account_actions,
    approvals,
    casework,
    client_lifecycle,
    client_money,
    client_profile,
    clients,
    contact,
    efactura,
    refunds,
    sign_in,
    staff_pages,
    views,
)
from app.admin.blueprint import bp

__all__ = ["bp"]
