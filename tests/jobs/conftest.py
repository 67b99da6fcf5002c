"""Fixtures for the job tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def held(monkeypatch):
    """Commits hand nothing to the queue: the test runs `send_sms` itself."""
    calls = []
    monkeypatch.setattr("app.core.queue.enqueue", lambda path, *args: calls.append((path, *args)) or True)
    return calls
