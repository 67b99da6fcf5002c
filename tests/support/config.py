"""Config overrides test modules share (in their `app_overrides` or in create_app calls)."""

from __future__ import annotations

PRODUCTION = {
    "SECRET_KEY": "x" * 32,
    "SQLALCHEMY_DATABASE_URI": "sqlite://",
    "PUBLIC_HOST_SET": True,
    "ALLOW_TEST_GATEWAY": True,
    "RATELIMIT_STORAGE_URI_SET": True,  # memory:// on purpose (tests/unit/test_ratelimit_storage.py)
}

#: No quiet hours: every SMS is due at once.
NO_QUIET_HOURS = {"SMS_QUIET_START": "00:00", "SMS_QUIET_END": "00:00"}
