"""Every admin page, each module registering its routes on the one blueprint."""

from __future__ import annotations

from app.admin import client_profile, clients, refunds, sign_in, staff_pages, views  # noqa: F401  (their routes)
from app.admin.blueprint import bp

__all__ = ["bp"]
