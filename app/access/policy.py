"""Who may do what in the client area: one table, enforced for every request.

The owner may do everything. A trusted user may do what their permissions
allow, never manage users, and never see the owner's account-wide settings.
Every client-area endpoint must match a rule below: an endpoint no rule names
is refused (deny by default), and a test walks the URL map to prove coverage.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from flask import Flask, abort, request
from flask_login import current_user

#: Permissions an owner can give a trusted user.
PERMISSIONS: dict[str, str] = {
    "invoices.view": "View and download invoices",
    "invoices.pay": "Pay invoices and edit their billing details (with View invoices)",
    "wallet": "Account balance: add funds, pay with it, statements",
    "services": "Services: view them, and order new ones (with View and Pay invoices)",
    "profile": "Edit the account's details",
}

PUBLIC = "public"  # no login needed
ANY_USER = "any"  # any logged-in user of the client (their own things)
OWNER = "owner"  # the account owner only

#: Paying or editing an invoice ends on the invoice (or the list): it needs seeing them too.
PAY = ("invoices.view", "invoices.pay")
#: An order creates a proforma to pay and shows it: whoever orders must be able to pay it.
ORDER = ("services", *PAY)

#: Endpoint patterns (fnmatch, first match wins) and what they require: one
#: permission, or a tuple of permissions all needed.
RULES: list[tuple[str, str | tuple[str, ...]]] = [
    ("static", PUBLIC),
    ("healthz", PUBLIC),
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
    ("wallet.pay", PAY),
    ("wallet.gateway_callback", PUBLIC),
    ("wallet.*", "wallet"),
    ("hosting.cart*", ORDER),
    ("hosting.checkout", ORDER),
    ("hosting.*", "services"),
    ("trusted_users.accept_invite", PUBLIC),
    ("trusted_users.*", OWNER),
    ("admin.*", PUBLIC),  # the admin has its own guard (staff_required)
]


def rule_for(endpoint: str | None) -> str | tuple[str, ...] | None:
    """What `endpoint` requires, or None when no rule names it."""
    if endpoint is None:
        return None
    return next((need for pattern, need in RULES if fnmatchcase(endpoint, pattern)), None)


def can(user, need: str | tuple[str, ...] | None) -> bool:
    """Whether a client user may use something requiring `need` (all of a tuple)."""
    if isinstance(need, tuple):
        return all(can(user, one) for one in need)
    if need in (PUBLIC, ANY_USER):
        return True
    if need is None:
        return False
    if user.is_owner:
        return True
    return need != OWNER and need in (user.permissions or [])


def can_open(user, endpoint: str) -> bool:
    """Whether `user` may open `endpoint` (used to build menus)."""
    return can(user, rule_for(endpoint))


def may(endpoint: str) -> bool:
    """In templates: may the signed-in client user open `endpoint`? Every link,
    button and form in the client area that leads to a guarded endpoint asks
    this, so nobody is offered an action the table above refuses."""
    return (
        current_user.is_authenticated and current_user.get_id().startswith("user:") and can_open(current_user, endpoint)
    )


def _enforce() -> None:
    endpoint = request.endpoint
    if endpoint is None:
        return  # a 404 is on its way
    need = rule_for(endpoint)
    if need is None:
        abort(404)  # deny by default: no rule names this endpoint
    if need == PUBLIC or not current_user.is_authenticated or not current_user.get_id().startswith("user:"):
        return  # public, or the view's own login guard answers
    if not can(current_user, need):
        abort(403)


def init_app(app: Flask) -> None:
    app.before_request(_enforce)
    app.jinja_env.globals["may"] = may
