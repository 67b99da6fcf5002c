"""Rate limits on the ways in (Flask-Limiter): per IP and per account.

Views wrapped with `rate_limited` are marked, so a test can walk the URL map
and prove every login, 2FA, reset and token route is limited.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse_many
from werkzeug.exceptions import TooManyRequests

from app.core.i18n import _l

log = logging.getLogger(__name__)

limiter = Limiter(key_func=get_remote_address, default_limits=[])


def _config(name: str) -> Callable[[], str]:
    return lambda: current_app.config[name]


#: Forms where the account is named by the email typed.
_EMAIL_FORMS = {"auth.login", "auth.forgot_password", "admin.login"}


def account_key() -> str:
    """The account an attempt targets: the email typed on the sign-in and reset
    forms, the pending user on the 2FA step, the signed-in user elsewhere.
    Never a field the client can vary on the other routes."""
    from flask import session
    from flask_login import current_user

    if request.endpoint in _EMAIL_FORMS:
        return f"email:{(request.form.get('email') or '').strip().lower()}"
    pending = session.get("pending_2fa")
    if request.endpoint == "auth.login_twofactor" and isinstance(pending, dict):
        return f"user:{pending.get('u')}"
    if current_user.is_authenticated:
        return current_user.get_id().rsplit(":", 1)[0]
    return f"ip:{get_remote_address()}"


def rate_limited(*, per_account: bool = False) -> Callable:
    """Limit a view per IP (token routes, forms) and, for credential forms, per account."""

    def decorator(view: Callable) -> Callable:
        if per_account:
            view = limiter.limit(_config("RATE_LIMIT_LOGIN_ACCOUNT"), key_func=account_key, methods=["POST"])(view)
            view = limiter.limit(_config("RATE_LIMIT_LOGIN_IP"), methods=["POST"])(view)
        else:
            view = limiter.limit(_config("RATE_LIMIT_TOKEN_IP"))(view)
        view._rate_limited = True
        return view

    return decorator


# --- one budget of wrong credentials per account ------------------------------------------------

#: The namespace of the shared counter: every check of a password, TOTP or recovery code.
_CREDENTIAL_SCOPE = "credential-checks"


class TooManyCredentialChecks(TooManyRequests):
    description = _l("Too many wrong passwords or codes for this account. Wait a few minutes and try again.")


def _credential_limits():
    return parse_many(current_app.config["RATE_LIMIT_LOGIN_ACCOUNT"])


def _strategy():
    """The rate limiter's strategy, or None when rate limiting is off (most tests)."""
    if not current_app.config.get("RATELIMIT_ENABLED", True) or not limiter.initialized:
        return None
    return limiter.limiter


def refuse_if_too_many_credential_checks(account: str) -> None:
    """Before checking a password or code for `account` ("user:12", "email:a@b.c"):
    raise TooManyCredentialChecks (a 429) once its wrong ones reach
    RATE_LIMIT_LOGIN_ACCOUNT. One budget for every form (login, 2FA step,
    re-authentication, password and email change, 2FA off): a guesser gains
    nothing by moving from one form to another. A refused check is not made,
    so even the right password does not pass while the budget is spent."""
    strategy = _strategy()
    if strategy is None:
        return
    try:
        allowed = all(strategy.test(limit, _CREDENTIAL_SCOPE, account) for limit in _credential_limits())
    except Exception:  # storage down: the per-route limits (with their memory fallback) still hold
        log.warning("rate-limit storage unreachable; credential budget of %s not checked", account, exc_info=True)
        return
    if not allowed:
        raise TooManyCredentialChecks()


def count_wrong_credential(account: str) -> None:
    """Spend one try of `account`'s budget: a wrong password or code was given."""
    strategy = _strategy()
    if strategy is None:
        return
    try:
        for limit in _credential_limits():
            strategy.hit(limit, _CREDENTIAL_SCOPE, account)
    except Exception:
        log.warning("rate-limit storage unreachable; wrong credential of %s not counted", account, exc_info=True)
