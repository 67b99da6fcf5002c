"""Password hashing with Argon2id."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

from app.core.i18n import _

_default = PasswordHasher()
# Test-only parameters: the suite hashes hundreds of passwords.
_fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
# Verified against when the account does not exist, so both cases cost the same.
_DUMMY_HASH = _default.hash("billfold-dummy-password")


def _hasher() -> PasswordHasher:
    return _fast if current_app.config.get("PASSWORD_HASH_FAST") else _default


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-cost check; an unknown account (None) is verified against a dummy."""
    try:
        return _default.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


def password_problem(password: str | None) -> str | None:
    """What is wrong with a new password (client users' and staff's rules), or None."""
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password or "") < minimum:
        return _("Use at least %(num)d characters.", num=minimum)
    if len(password) > 256:
        return _("Use at most 256 characters.")
    return None
