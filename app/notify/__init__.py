"""Outgoing messages: the outbox, email rendering and delivery jobs."""

#: Email types a user can subscribe to (security emails always go).
NOTIFICATION_TYPES: dict[str, str] = {
    "invoices": "Invoices",
    "payments": "Payments",
    "service_status": "Service status",
    "newsletter": "Newsletter",
}

#: What a new account owner receives until they change it.
OWNER_DEFAULT_TYPES = ["invoices", "payments", "service_status"]
