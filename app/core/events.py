"""Domain events: services announce what happened; other domains (hosting,
notifications) subscribe. Handlers run inside the caller's transaction, so
whatever they write (an outbox row) commits or rolls back with the event itself,
and in the order they subscribed (create_app subscribes hosting before notify:
a message about a paid invoice sees the services it renewed)."""

from __future__ import annotations

from collections.abc import MutableSet
from typing import Any

from blinker import NamedSignal, Namespace
from flask import current_app


class _InsertionOrder(MutableSet):
    """A set iterating in insertion order: blinker calls receivers in the order of its set class."""

    def __init__(self, items=()) -> None:
        self._items = dict.fromkeys(items)

    def __contains__(self, item) -> bool:
        return item in self._items

    def __iter__(self):
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item) -> None:
        self._items[item] = None

    def discard(self, item) -> None:
        self._items.pop(item, None)

    def copy(self) -> _InsertionOrder:
        return _InsertionOrder(self._items)


class _OrderedSignal(NamedSignal):
    set_class = _InsertionOrder


class _OrderedNamespace(Namespace):
    def signal(self, name: str, doc: str | None = None) -> NamedSignal:
        if name not in self:
            self[name] = _OrderedSignal(name, doc)
        return self[name]


_events = _OrderedNamespace()

#: Names of the events services emit, with the keyword data each carries.
EVENTS = {
    "proformas_issued": "proforma_ids: list[int], origin: 'order' | 'renewal'",
    "services_suspended": "service_ids: list[int], reason: str, terminating: bool (terminated right after)",
    "services_terminated": "service_ids: list[int]",
    "invoice_paid": "proforma_id: int, tax_invoice_id: int",
    "credit_note_issued": "credit_note_id: int, tax_invoice_id: int (the invoice it corrects)",
    "wallet_topped_up": "payment_id: int (a card payment credited to the wallet)",
    "bank_transfer_reviewed": "transfer_id: int (approved and credited, or rejected with a reason)",
}


def emit(event: str, **data: Any) -> None:
    """Announce `event` to its subscribers. Raises KeyError for an unknown event."""
    if event not in EVENTS:
        raise KeyError(f"unknown domain event {event!r}")
    _events.signal(event).send(current_app._get_current_object(), **data)


def subscribe(event: str, handler) -> None:
    """Call `handler(app, **data)` whenever `event` is emitted, after the handlers
    subscribed before it (weakly referenced: keep it alive)."""
    if event not in EVENTS:
        raise KeyError(f"unknown domain event {event!r}")
    _events.signal(event).connect(handler)


def signal(event: str):
    """The blinker signal of an event, e.g. for `connected_to` in tests."""
    return _events.signal(event)
