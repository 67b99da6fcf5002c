"""Absolute links for emails and other messages read outside the browser."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app


def external_url(endpoint: str, **values) -> str:
    """An absolute URL built from the configured public host and scheme.

    Never uses the current request's Host header, which a client controls.
    """
    adapter = current_app.url_map.bind(
        current_app.config["PUBLIC_HOST"],
        url_scheme=current_app.config["PUBLIC_SCHEME"],
    )
    return adapter.build(endpoint, values, force_external=True)


def is_safe_next(target: str | None) -> bool:
    """Whether `target` is a local path we may redirect to after login."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return False
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc
