"""Domain errors, raised by services and turned into HTTP answers in one place.

Every error answer tells the user something: an htmx request gets a toast (and
no swap: the page stays as it was), a page request gets a styled page in the
layout the reader is in (the client area's navigation when signed in) whose
heading names the problem.
"""

from __future__ import annotations

import logging
import math
import time

from flask import Flask, render_template
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import Forbidden, HTTPException, TooManyRequests

from app.core.htmx import is_htmx, toast_response
from app.core.i18n import _, _l, ngettext
from app.core.ratelimit import limiter
from app.extensions import db

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A business rule refused the operation; the message is safe to show."""

    status_code = 400

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationError(DomainError):
    """Input that breaks a rule; `field` names the form field it belongs to."""

    status_code = 422


class Conflict(DomainError):
    """The object is already in a state that refuses this (paid, approved, a tax document)."""

    status_code = 409


class InvalidAmount(ValidationError):
    """An amount that is not a plain positive number in the currency's units."""


class EmailTaken(ValidationError):
    def __init__(self) -> None:
        super().__init__(_("An account with this email already exists."), field="email")


#: What an htmx request is told when an answer carries no message of its own.
TOAST_MESSAGES = {
    400: _l("That request could not be accepted. Reload the page and try again."),
    403: _l("You don't have access to this. The account owner decides what each user may do."),
    404: _l("That was not found. It may have been removed: reload the page."),
    405: _l("That action is not available here. Reload the page and try again."),
    409: _l("That can no longer be done. Nothing was changed."),
    413: _l("The file is too large: upload at most 5 MB."),
    500: _l("Something went wrong on our side. Please try again in a few minutes."),
}

#: A 403 told to staff: it is their role, not an account owner, that decides.
STAFF_FORBIDDEN = _l(
    "Your staff roles do not include \u201c%(privilege)s\u201d. An administrator can add it to your roles under Staff."
)


class StaffForbidden(Forbidden):
    """A staff member without the privilege an admin page needs (403 in the admin layout)."""

    def __init__(self, privilege_label: str) -> None:
        super().__init__()
        self.privilege_label = privilege_label


class ImpersonationForbidden(Forbidden):
    """Staff signed in as a client (support access) opening the client's own security
    settings (403, saying so)."""

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what


#: A 403 told to staff signed in as a client: support access never touches these.
IMPERSONATION_FORBIDDEN = _l(
    "You are signed in as this client for support, and support access cannot open or change "
    "%(what)s: only the client can. Go back to the admin for staff actions."
)

#: Headings of the statuses that share the 400 page.
HEADINGS = {400: _l("We could not accept that request"), 405: _l("That action is not available here")}

#: The page template for each status; any other status uses the 400 page.
PAGES = {403: "errors/403.html", 404: "errors/404.html", 409: "errors/409.html", 429: "errors/429.html"}


def error_layout() -> str:
    """The layout an error page extends: the reader's own, navigation included."""
    if not current_user.is_authenticated:
        return "auth_base.html"
    kind = current_user.get_id().split(":", 1)[0]
    return {"user": "base.html", "staff": "admin/base.html"}.get(kind, "auth_base.html")


def home_link() -> tuple[str, str]:
    """(label, endpoint) of the way back from an error page."""
    layout = error_layout()
    if layout == "base.html":
        return _("Go to your dashboard"), "dashboard.index"
    if layout == "admin/base.html":
        return _("Go to the staff admin"), "admin.index"
    return _("Go to the sign-in page"), "auth.login"


def error_answer(status: int, message: str, template: str | None = None, **context):
    """A toast for htmx; else the styled page `template` (by status when not given)."""
    message = str(message)
    if is_htmx():
        return toast_response(message, "error", status)
    template = template or PAGES.get(status, "errors/400.html")
    context.setdefault("code", status)
    return render_template(template, layout=error_layout(), home=home_link(), reason=message, **context), status


def retry_after_seconds() -> int | None:
    """How long until the rate limit this request broke lets the next attempt through."""

    limit = limiter.current_limit
    if limit is None:
        return None
    return max(1, math.ceil(limit.reset_at - time.time()))


def in_words(seconds: int) -> str:
    """45 -> '45 seconds', 125 -> '3 minutes' (rounded up: never sooner than true)."""
    if seconds < 120:
        return ngettext("%(num)d second", "%(num)d seconds", seconds)
    minutes = math.ceil(seconds / 60)
    return ngettext("%(num)d minute", "%(num)d minutes", minutes)


def _too_many_requests(error):
    description = getattr(error, "description", None)
    if description and description != TooManyRequests.description and not isinstance(error, RateLimitExceeded):
        # A refusal that says why itself (the per-account budget of wrong passwords and codes).
        return error_answer(429, str(description), wait=str(description))
    seconds = retry_after_seconds()
    wait = _("Try again in %(time)s.", time=in_words(seconds)) if seconds else _("Wait a minute and try again.")
    return error_answer(429, _("Too many attempts. %(wait)s", wait=wait), wait=wait)


def _server_error(error):

    db.session.rollback()  # the failed transaction must not break the error page's own queries
    try:
        return error_answer(500, TOAST_MESSAGES[500], "errors/500.html")
    except Exception:  # the layout needs the database; the bare page does not
        log.exception("the error page with navigation failed; answering the bare page")
        return render_template("errors/500.html", layout="auth_base.html", home=(_("Try again"), "auth.login")), 500


def _http_error(error: HTTPException):
    status = error.code or 500
    if status >= 500:
        return _server_error(error)
    # Statuses without a page of their own share the 400 page, under their own heading.
    heading = None if status in PAGES else HEADINGS.get(status, error.name)
    message = TOAST_MESSAGES.get(status, TOAST_MESSAGES[400])
    if isinstance(error, StaffForbidden):
        message = str(STAFF_FORBIDDEN) % {"privilege": error.privilege_label}
    elif isinstance(error, ImpersonationForbidden):
        return error_answer(status, str(IMPERSONATION_FORBIDDEN) % {"what": error.what}, support_access=True)
    elif status == 403 and error_layout() == "admin/base.html":
        message = _("Your staff roles do not allow this.")
    return error_answer(status, message, heading=heading)


def init_app(app: Flask) -> None:
    """Register the error pages and the DomainError handler."""

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return error_answer(
            400,
            _("This form has expired. Reload the page and try again."),
            heading=_("This form has expired"),
            lead=_(
                "For your security a form stops working after a while, or when you sign in again. "
                "Go back, reload the page and try again."
            ),
        )

    @app.errorhandler(413)
    def too_large(error):
        return error_answer(413, TOAST_MESSAGES[413], heading=_("That file is too large"))

    app.register_error_handler(429, _too_many_requests)
    app.register_error_handler(500, _server_error)
    app.register_error_handler(HTTPException, _http_error)

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        return error_answer(error.status_code, error.message)


class InvalidCredentials(DomainError):
    """Wrong email or password; one message for both, so emails can't be probed."""

    status_code = 401

    def __init__(self) -> None:
        super().__init__(_("The email or password is incorrect."))
