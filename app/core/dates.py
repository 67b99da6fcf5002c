"""The business date."""

from __future__ import annotations

from datetime import UTC, date, datetime


def today() -> date:
    """Today's date for billing (UTC)."""
    return datetime.now(UTC).date()
