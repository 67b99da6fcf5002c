"""Domain events: services announce what happened; other domains (notifications)
subscribe. Handlers run inside the caller's transaction, so whatever they write
(an outbox row) commits or rolls back with the event itself."""

from __future__ import annotations

from typing import Any

from blinker import Namespace
from flask import current_app

_events = Namespace()

#: Names of the events services emit, with the keyword data each carries.
EVENTS = {
    "proformas_issued": "proforma_ids: list[int], origin: 'order' | 'renewal'",
    "services_suspended": "service_ids: list[int], reason: str, terminating: bool (terminated right after)",
    "services_terminated": "service_ids: list[int]",
    "invoice_paid": "proforma_id: int, tax_invoice_id: int",
    "wallet_topped_up": "payment_id: int (a card payment credited to the wallet)",
    "bank_transfer_reviewed": "transfer_id: int (approved and credited, or rejected with a reason)",
}


def emit(event: str, **data: Any) -> None:
    """Announce `event` to its subscribers. Raises KeyError for an unknown event."""
    if event not in EVENTS:
        raise KeyError(f"unknown domain event {event!r}")
    _events.signal(event).send(current_app._get_current_object(), **data)


def subscribe(event: str, handler) -> None:
    """Call `handler(app, **data)` whenever `event` is emitted (weakly referenced: keep it alive)."""
    if event not in EVENTS:
        raise KeyError(f"unknown domain event {event!r}")
    _events.signal(event).connect(handler)


def signal(event: str):
    """The blinker signal of an event, e.g. for `connected_to` in tests."""
    return _events.signal(event)
