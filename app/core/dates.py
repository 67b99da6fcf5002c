"""The business date: the seller's calendar day (BILLING_TIMEZONE)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, has_app_context


def billing_zone() -> ZoneInfo:
    name = current_app.config.get("BILLING_TIMEZONE") if has_app_context() else None
    return ZoneInfo(name or "UTC")


def local_date(moment: datetime) -> date:
    """The seller's calendar day at `moment` (an aware datetime; naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(billing_zone()).date()


def today(zone_name: str | None = None) -> date:
    """Today's date for billing (invoices, the billing run, due dates), or in `zone_name`."""
    now = datetime.now(UTC)
    return now.astimezone(zone(zone_name)).date() if zone_name else local_date(now)


def zone(name: str | None) -> ZoneInfo:
    """The time zone called `name`; the billing zone when it is unset or unknown."""
    try:
        return ZoneInfo(name) if name else billing_zone()
    except (ZoneInfoNotFoundError, ValueError):
        return billing_zone()
