"""How a delivery (email or SMS) fails: the jobs retry it, or give up when it is permanent."""

from __future__ import annotations


class DeliveryFailed(Exception):
    """A send attempt failed; the row says when to try again (the sweeper hands it over then)."""
