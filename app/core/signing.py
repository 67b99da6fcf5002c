"""Signed, expiring tokens: one salt per purpose, verified with key rotation."""

from __future__ import annotations

from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer


class InvalidToken(Exception):
    """The token is forged, malformed or expired."""

    def __init__(self, expired: bool = False):
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


def _serializer(salt: str) -> URLSafeTimedSerializer:
    keys = [*current_app.config.get("SECRET_KEY_FALLBACKS", []), current_app.config["SECRET_KEY"]]
    # itsdangerous signs with the last key and accepts all of them.
    return URLSafeTimedSerializer(keys, salt=salt)


def sign(payload: Any, *, salt: str) -> str:
    """A URL-safe token carrying `payload`, signed for one purpose (`salt`)."""
    return _serializer(salt).dumps(payload)


def unsign(token: str, *, salt: str, max_age: int) -> Any:
    """The payload of a token signed for `salt`. Raises InvalidToken."""
    try:
        return _serializer(salt).loads(token, max_age=max_age)
    except SignatureExpired:
        raise InvalidToken(expired=True) from None
    except BadSignature:
        raise InvalidToken() from None
