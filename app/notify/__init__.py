"""Outgoing messages: the outbox, email rendering and delivery jobs."""

from app.core.i18n import _l

#: Email types a user can subscribe to (security emails always go).
NOTIFICATION_TYPES: dict[str, str] = {
    "invoices": _l("Invoices"),
    "payments": _l("Payments"),
    "service_status": _l("Service status"),
    "newsletter": _l("Newsletter"),
}

#: What a new account owner receives until they change it.
OWNER_DEFAULT_TYPES = ["invoices", "payments", "service_status"]
