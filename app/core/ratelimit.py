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


def account_key() -> str:
    """The account an attempt targets (the email typed, or the pending 2FA user)."""
    from flask import session

    email = (request.form.get("email") or "").strip().lower()
    pending = session.get("pending_2fa", {}).get("u") if isinstance(session.get("pending_2fa"), dict) else None
    return f"account:{email or pending or 'none'}"


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
