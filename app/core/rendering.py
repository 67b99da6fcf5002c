"""One view, two renderings: the full page, or only its partial for htmx."""

from __future__ import annotations

from flask import Response, redirect, render_template, request


def wants_partial() -> bool:
    """True for an htmx request that swaps a fragment (not a boosted navigation,
    not a history restore, which both need the whole page)."""
    hx = getattr(request, "htmx", None)
    return bool(hx) and not hx.boosted and not hx.history_restore_request


def render_page(page: str, partial: str, status: int = 200, /, **context):
    """Render `partial` for htmx, else `page` (which includes the partial)."""
    template = partial if wants_partial() else page
    return render_template(template, **context), status


def redirect_to(location: str):
    """Redirect a normal request, or tell htmx to load `location` as a whole page
    (an htmx request would otherwise swap the next page into a fragment)."""
    if getattr(request, "htmx", None):
        return Response(status=204, headers={"HX-Redirect": location})
    return redirect(location)
