"""The client area's menu: the sections the signed-in user may open."""

from __future__ import annotations

from flask import current_app, g
from flask_login import current_user

from app.access.policy import can_open, impersonation_refuses, is_client_user
from app.core.i18n import _l

# The client area's sections, in menu order. A section shows up once its
# blueprint has the endpoint, so the menu never links to a missing page.
CLIENT_NAV: list[tuple[str, str]] = [
    (_l("Dashboard"), "dashboard.index"),
    (_l("Services"), "hosting.services"),
    (_l("Invoices"), "invoices.index"),
    (_l("Order"), "hosting.cart"),
    (_l("Account balance"), "wallet.index"),
    (_l("Trusted users"), "trusted_users.index"),
    (_l("My details"), "profile.details"),
    (_l("Documents"), "casework.documents"),
    (_l("Security"), "security.index"),
    (_l("Notifications"), "notify.index"),
]


def client_nav() -> list[tuple[str, str]]:
    """The menu entries that exist and that the current user may open."""
    return [
        (label, ep)
        for label, ep in CLIENT_NAV
        if ep in current_app.view_functions
        and is_client_user(current_user)
        and can_open(current_user, ep)
        # staff signed in as the client (support access) are not offered the client's security settings
        and not (g.get("impersonation") is not None and impersonation_refuses(ep))
    ]
