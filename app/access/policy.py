"""Who may do what: one table for every endpoint, and the permission rule, written once.

The owner may do everything. A trusted user may do what their permissions
allow, never manage users, and never see the owner's account-wide settings.
Staff pages need a signed-in staff member. Every endpoint must match a rule
below: one no rule names is refused (deny by default), and a test walks the URL
map to prove coverage. app.access.guard applies the table to every request;
views, templates (what to offer) and notification handlers (who is told) ask
`can` the same question.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from flask import current_app, g
from flask_login import current_user

from app.core.i18n import _l
from app.staff import privileges as P

#: Permissions an owner can give a trusted user.
PERMISSIONS: dict[str, str] = {
    "invoices.view": _l("View and download invoices"),
    "invoices.pay": _l("Pay invoices and edit their billing details (with View invoices)"),
    "wallet": _l("Account balance: add funds, pay with it, statements"),
    "services": _l("Services: view them, and order new ones (with View and Pay invoices)"),
    "profile": _l("Edit the account's details"),
}

PUBLIC = "public"  # no login needed
ANY_USER = "any"  # any logged-in user of the client (their own things)
OWNER = "owner"  # the account owner only


@dataclass(frozen=True)
class StaffNeed:
    """An admin endpoint's requirement: a signed-in staff member holding `privilege`
    (any staff member when None: their home, their own account)."""

    privilege: str | None = None


STAFF = StaffNeed()


def staff(privilege: str) -> StaffNeed:
    assert privilege in P.PRIVILEGES, privilege
    return StaffNeed(privilege)


#: Paying or editing an invoice ends on the invoice (or the list): it needs seeing them too.
PAY = ("invoices.view", "invoices.pay")
#: An order creates a proforma to pay and shows it: whoever orders must be able to pay it.
ORDER = ("services", *PAY)

#: Endpoint patterns (fnmatch, first match wins) and what they require: one
#: permission, or a tuple of permissions all needed.
RULES: list[tuple[str, str | tuple[str, ...]]] = [
    ("static", PUBLIC),
    ("healthz", PUBLIC),
    ("readyz", PUBLIC),
    ("auth.*", PUBLIC),  # sign-up, login and its 2FA step, logout, password reset, the /l/ links
    ("security.confirm_email", PUBLIC),
    ("security.*", ANY_USER),  # each user's own password, 2FA, IP list, sessions, alerts
    ("dashboard.*", ANY_USER),
    ("notify.*", ANY_USER),  # each user's own messages (the owner's: the whole client's)
    ("profile.details", "profile"),
    ("profile.avatar*", "profile"),
    ("profile.privacy*", OWNER),
    ("profile.erasure*", OWNER),
    ("invoices.billing", PAY),
    ("invoices.*", "invoices.view"),
    ("einvoice.*", "invoices.view"),  # a tax document's XML, beside its PDF
    ("wallet.pay", PAY),
    ("wallet.gateway_callback", PUBLIC),
    ("wallet.*", "wallet"),
    ("hosting.cart*", ORDER),
    ("hosting.checkout", ORDER),
    ("hosting.*", "services"),
    ("trusted_users.accept_invite", PUBLIC),
    ("trusted_users.*", OWNER),
    ("casework.*", OWNER),  # Documents: the files staff shared with the account
    # The staff admin: each endpoint named with the privilege it needs. There is no
    # catch-all: an admin endpoint missing here is refused, and a test fails for it.
    ("admin.login", PUBLIC),
    ("admin.login_code", PUBLIC),  # the second factor, for a password already checked
    ("admin.login_enrol", PUBLIC),  # first sign-in: set up the second factor
    ("admin.logout", PUBLIC),
    ("admin.accept_invite", PUBLIC),
    ("admin.index", STAFF),
    ("admin.account", STAFF),
    ("admin.account_*", STAFF),
    ("admin.clients", staff(P.VIEW_CLIENTS)),
    ("admin.client", staff(P.VIEW_CLIENTS)),
    ("admin.client_tab", staff(P.VIEW_CLIENTS)),
    ("admin.client_settings", staff(P.EDIT_CLIENTS)),
    ("admin.client_contact", staff(P.EDIT_CLIENTS)),
    ("admin.message_templates", staff(P.MANAGE_TEMPLATES)),
    ("admin.message_template_new", staff(P.MANAGE_TEMPLATES)),
    ("admin.message_template_edit", staff(P.MANAGE_TEMPLATES)),
    ("admin.client_note_*", staff(P.EDIT_CLIENTS)),
    ("admin.client_file_download", staff(P.VIEW_CLIENTS)),
    ("admin.client_file_*", staff(P.EDIT_CLIENTS)),
    ("admin.service_group_*", staff(P.EDIT_CLIENTS)),
    ("admin.queued_item_*", staff(P.MANAGE_BILLING)),
    ("admin.invoice_new", staff(P.MANAGE_BILLING)),
    # The account's lifecycle page and its actions (app/admin/client_lifecycle.py).
    ("admin.client_lifecycle", staff(P.CLOSE_CLIENTS)),
    ("admin.client_close", staff(P.CLOSE_CLIENTS)),
    ("admin.client_archive", staff(P.CLOSE_CLIENTS)),
    ("admin.client_reopen", staff(P.CLOSE_CLIENTS)),
    ("admin.client_anonymize", staff(P.CLOSE_CLIENTS)),
    ("admin.client_merge", staff(P.CLOSE_CLIENTS)),
    ("admin.client_delete", staff(P.CLOSE_CLIENTS)),
    ("admin.client_gdpr_pdf", staff(P.CLOSE_CLIENTS)),
    ("admin.credit_adjust", staff(P.MANAGE_BILLING)),
    ("admin.credit_add", staff(P.MANAGE_BILLING)),
    # The credit log is on the profile for anyone who views clients; the statement is the same rows.
    ("admin.client_statement", staff(P.VIEW_CLIENTS)),
    ("admin.approvals", staff(P.VIEW_CLIENTS)),
    # Deciding needs billing; the service checks the privilege of the request's own kind on top.
    ("admin.approval_approve", staff(P.MANAGE_BILLING)),
    ("admin.approval_reject", staff(P.MANAGE_BILLING)),
    ("admin.client_password", staff(P.EDIT_CLIENTS)),
    ("admin.client_password_reset", staff(P.EDIT_CLIENTS)),
    ("admin.client_currency", staff(P.MANAGE_BILLING)),
    ("admin.client_login_as", staff(P.LOGIN_AS_CLIENT)),
    ("admin.end_impersonation", STAFF),  # "Back to the admin": ending one's own support access is always allowed
    ("admin.failed_messages", staff(P.VIEW_CLIENTS)),
    ("admin.erasure_requests", staff(P.VIEW_CLIENTS)),
    ("admin.billing_runs", staff(P.MANAGE_BILLING)),
    # RO e-Factura: anyone who views clients sees the reports; sending one again is billing's.
    ("admin.efactura_list", staff(P.VIEW_CLIENTS)),
    ("admin.efactura_answer", staff(P.VIEW_CLIENTS)),
    ("admin.efactura_retry", staff(P.MANAGE_BILLING)),
    ("admin.payment_refund", staff(P.MANAGE_BILLING)),
    ("admin.credit_note_new", staff(P.MANAGE_BILLING)),
    ("admin.bank_transfers", staff(P.APPROVE_PAYMENTS)),
    ("admin.bank_transfer", staff(P.APPROVE_PAYMENTS)),
    ("admin.approve_transfer", staff(P.APPROVE_PAYMENTS)),
    ("admin.reject_transfer", staff(P.APPROVE_PAYMENTS)),
    ("admin.transfer_proof", staff(P.APPROVE_PAYMENTS)),
    ("admin.staff", staff(P.MANAGE_STAFF)),
    ("admin.staff_*", staff(P.MANAGE_STAFF)),
    ("admin.roles", staff(P.MANAGE_STAFF)),
    ("admin.role_*", staff(P.MANAGE_STAFF)),
]

Need = str | tuple[str, ...] | StaffNeed

#: What staff signed in as a client (support access) may never reach, with the reason the
#: refusal page gives: the client's own credentials and who may sign in stay the client's.
IMPERSONATION_REFUSED: list[tuple[str, object]] = [
    (
        "security.*",
        _l("the password, email address, two-factor authentication, IP allow-list, sessions and sign-in alerts"),
    ),
    ("trusted_users.*", _l("the trusted users and their access")),
    ("profile.erasure*", _l("a request to erase the account")),
    # Signing in (a form, an emailed link), signing up or resetting a password would swap this
    # browser's identity without ending the support access. ("Sign out" ends it: app.access.guard.)
    ("auth.*", _l("signing in, signing up and password resets")),
]


def impersonation_refuses(endpoint: str | None) -> str | None:
    """What a support access (staff signed in as the client) may not touch at `endpoint`,
    or None when it may be used."""
    if endpoint is None:
        return None
    return next((str(what) for pattern, what in IMPERSONATION_REFUSED if fnmatchcase(endpoint, pattern)), None)


def rule_for(endpoint: str | None) -> Need | None:
    """What `endpoint` requires, or None when no rule names it."""
    if endpoint is None:
        return None
    return next((need for pattern, need in RULES if fnmatchcase(endpoint, pattern)), None)


def is_client_user(identity) -> bool:
    """A signed-in client user (owner or trusted), as opposed to staff or nobody."""
    return bool(identity.is_authenticated) and identity.get_id().startswith("user:")


def is_staff(identity) -> bool:
    return bool(identity.is_authenticated) and identity.get_id().startswith("staff:")


def can(user, need: str | tuple[str, ...] | None) -> bool:
    """The permission rule: may client user `user` use something requiring `need`
    (a permission, OWNER, ANY_USER or PUBLIC; all of a tuple)? The owner may
    everything; a trusted user what their permissions name, never OWNER things."""
    if isinstance(need, tuple):
        return all(can(user, one) for one in need)
    if need in (PUBLIC, ANY_USER):
        return True
    if need is None or isinstance(need, StaffNeed):
        return False
    if user.is_owner:
        return True
    return need != OWNER and need in (user.permissions or [])


def staff_can(identity, need: StaffNeed) -> bool:
    """May staff member `identity` use an endpoint requiring `need`?"""
    return is_staff(identity) and (need.privilege is None or identity.has_privilege(need.privilege))


def staff_may(endpoint: str) -> bool:
    """In admin templates: may the signed-in staff member open `endpoint`? Every link and
    button of the admin asks this, so nobody is offered what the table refuses (nor a
    page this build does not have)."""
    if endpoint not in current_app.view_functions:
        return False
    need = rule_for(endpoint)
    return isinstance(need, StaffNeed) and staff_can(current_user, need)


def who_may(users, need: str | tuple[str, ...]) -> list:
    """Those of `users` who may use `need`: whom a notification about it may reach."""
    return [user for user in users if can(user, need)]


def can_open(user, endpoint: str) -> bool:
    """Whether `user` may open `endpoint` (used to build menus)."""
    return can(user, rule_for(endpoint))


def may(endpoint: str) -> bool:
    """In templates: may the signed-in client user open `endpoint`? Every link,
    button and form in the client area that leads to a guarded endpoint asks
    this, so nobody is offered an action the table above refuses."""
    if g.get("impersonation") is not None and impersonation_refuses(endpoint):
        return False  # staff signed in as the client: the client's security settings are not offered
    return is_client_user(current_user) and can_open(current_user, endpoint)


def may_use(need: str) -> bool:
    """In templates: may the signed-in client user use something requiring `need`?"""
    return is_client_user(current_user) and can(current_user, need)
