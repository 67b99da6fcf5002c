"""Rate limits on the ways in (Flask-Limiter): per IP and per account.

Views wrapped with `rate_limited` are marked, so a test can walk the URL map
and prove every login, 2FA, reset and token route is limited.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address, default_limits=[])


def _config(name: str) -> Callable[[], str]:
    return lambda: current_app.config[name]


#: Forms where the account is named by the email typed.
_EMAIL_FORMS = {"account.login", "account.forgot_password", "admin.login"}


def account_key() -> str:
    """The account an attempt targets: the email typed on the sign-in and reset
    forms, the pending user on the 2FA step, the signed-in user elsewhere.
    Never a field the client can vary on the other routes."""
    from flask import session
    from flask_login import current_user

    if request.endpoint in _EMAIL_FORMS:
        return f"email:{(request.form.get('email') or '').strip().lower()}"
    pending = session.get("pending_2fa")
    if request.endpoint == "account.login_twofactor" and isinstance(pending, dict):
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
