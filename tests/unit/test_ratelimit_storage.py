"""Production shares its rate-limit counters between workers (issue 9)."""

from __future__ import annotations

import pytest

from app import create_app
from config import ProductionConfig
from tests.support.config import PRODUCTION

#: A production site as configured before: no REDIS_URL, no RATELIMIT_STORAGE_URI.
DEFAULTS = {**PRODUCTION, "RATELIMIT_STORAGE_URI": "memory://", "RATELIMIT_STORAGE_URI_SET": False}


def test_production_refuses_per_process_rate_limits_by_default():
    with pytest.raises(RuntimeError, match="counted in memory, separately by each worker") as refused:
        create_app(ProductionConfig, DEFAULTS)
    assert "REDIS_URL" in str(refused.value) and "RATELIMIT_STORAGE_URI=memory://" in str(refused.value)


def test_production_starts_with_memory_storage_named_on_purpose():
    app = create_app(ProductionConfig, {**DEFAULTS, "RATELIMIT_STORAGE_URI_SET": True})
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"


def test_production_starts_with_shared_storage():
    app = create_app(ProductionConfig, {**DEFAULTS, "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0"})
    assert app.config["RATELIMIT_STORAGE_URI"].startswith("redis://")
