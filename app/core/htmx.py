"""Tell the user what happened: a toast on an htmx answer, a flash otherwise.

A view calls `toast("Saved.", "success")`. When the answer is swapped in place
by htmx, the message travels in the `HX-Trigger` header as
`{"toast": {"message": ..., "level": ...}}` and static/js/app.js shows it in
the layout's toast region; when the browser loads a page next (a normal
request, a redirect, an htmx `HX-Redirect`), it is flashed instead, so it is
never lost.
"""

from __future__ import annotations

import json

from flask import Flask, Response, flash, g, request

LEVELS = ("success", "info", "warning", "error")


def toast(message: str, level: str = "info") -> None:
    """Show `message` to the user once this request is answered."""
    if level not in LEVELS:
        raise ValueError(f"toast level must be one of {LEVELS}, not {level!r}")
    g.setdefault("toasts", []).append({"message": str(message), "level": level})


def is_htmx() -> bool:
    """True for any request htmx made (the answer is handled by htmx, not loaded as a page)."""
    return bool(getattr(request, "htmx", None))


def toast_response(message: str, level: str, status: int) -> Response:
    """An answer for htmx that changes nothing on the page and shows only `message`
    (what the view meant to announce before it failed is dropped)."""
    g.toasts = []
    toast(message, level)
    return Response("", status=status, headers={"HX-Reswap": "none"})


def _leaves_the_page(response: Response) -> bool:
    return 300 <= response.status_code < 400 or any(
        name in response.headers for name in ("HX-Redirect", "HX-Location", "HX-Refresh")
    )


def _deliver_toasts(response: Response) -> Response:
    toasts = g.pop("toasts", None)
    if not toasts:
        return response
    if not is_htmx() or _leaves_the_page(response):
        for item in toasts:
            flash(item["message"], item["level"])
        return response
    triggers = _triggers(response.headers.get("HX-Trigger"))
    # One `toast` event per answer: several messages ride in it as a list.
    triggers["toast"] = toasts[0] if len(toasts) == 1 else {"toasts": toasts}
    response.headers["HX-Trigger"] = json.dumps(triggers)
    return response


def _triggers(header: str | None) -> dict:
    """An existing HX-Trigger header (JSON, or a comma-separated list of event names) as a dict."""
    if not header:
        return {}
    try:
        value = json.loads(header)
    except ValueError:
        return {name.strip(): None for name in header.split(",") if name.strip()}
    return value if isinstance(value, dict) else {}


def init_app(app: Flask) -> None:
    app.after_request(_deliver_toasts)
