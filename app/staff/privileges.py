"""What a staff member may be allowed to do. Roles group these; which admin
endpoint needs which is declared in app.access.policy."""

from __future__ import annotations

from app.core.i18n import _l

VIEW_CLIENTS = "clients.view"
EDIT_CLIENTS = "clients.edit"
MANAGE_BILLING = "billing.manage"
APPROVE_PAYMENTS = "payments.approve"
LOGIN_AS_CLIENT = "clients.login_as"
CLOSE_CLIENTS = "clients.close"
MANAGE_STAFF = "staff.manage"
MANAGE_TEMPLATES = "templates.manage"

#: Every privilege, in the order the roles form shows them, with its label.
PRIVILEGES: dict[str, str] = {  # labels: lazy, shown in the reader's language
    VIEW_CLIENTS: _l("View clients"),
    EDIT_CLIENTS: _l("Edit clients"),
    MANAGE_BILLING: _l("Manage billing and credit"),
    APPROVE_PAYMENTS: _l("Approve payments"),
    LOGIN_AS_CLIENT: _l("Log in as a client"),
    CLOSE_CLIENTS: _l("Close, anonymize, merge and delete clients"),
    MANAGE_STAFF: _l("Manage staff"),
    MANAGE_TEMPLATES: _l("Manage message templates"),
}

#: The roles a new installation starts with (flask create-staff --role NAME).
DEFAULT_ROLES: dict[str, tuple[str, ...]] = {
    "Administrator": tuple(PRIVILEGES),
    "Billing clerk": (VIEW_CLIENTS, EDIT_CLIENTS, MANAGE_BILLING, APPROVE_PAYMENTS),
    "Support": (VIEW_CLIENTS, LOGIN_AS_CLIENT),
    "Read only": (VIEW_CLIENTS,),
}
