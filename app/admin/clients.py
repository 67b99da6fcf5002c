"""The client list: search, filters, sort and keyset pages (/admin/clients)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, render_template, request, url_for
from flask_login import current_user

from app.admin.blueprint import bp
from app.clients.search import BadListQuery, ClientQuery, list_clients, owner_emails
from app.invoices.models import Invoice


def client_href(client_id: int) -> str:
    """The client's profile; a literal path until admin.client is registered."""
    if "admin.client" in current_app.view_functions:
        return url_for("admin.client", client_id=client_id)
    return f"/admin/clients/{client_id}"


@bp.route("/clients")
def clients():
    args = request.args
    query = ClientQuery(
        q=args.get("q", "")[:200],
        status=args.get("status", ""),
        kind=args.get("kind", ""),
        country=args.get("country", ""),
        sort=args.get("sort", "id"),
        direction=args.get("dir", "desc"),
        after=args.get("after", ""),
    )
    try:
        # Any proforma or invoice number finds its client (invoices.number is unique: indexed).
        by_invoice = sa.select(Invoice.client_id).where(Invoice.number == query.q.strip().upper())
        page, next_cursor = list_clients(query, also=[by_invoice])
    except BadListQuery as error:
        # Say what was wrong: an unknown value is a hand-edited URL, not "no clients".
        return render_template("admin/clients.html", error=str(error), clients=[], query=query, staff=current_user), 400
    params = {k: v for k, v in args.items() if k != "after" and v}
    next_url = url_for("admin.clients", **params, after=next_cursor) if next_cursor else None
    context = dict(
        clients=page,
        emails=owner_emails([c.id for c in page]),
        next_url=next_url,
        query=query,
        client_href=client_href,
        staff=current_user,
    )
    if request.headers.get("HX-Request") and query.after:
        return render_template("admin/_client_rows.html", **context)
    return render_template("admin/clients.html", **context)
