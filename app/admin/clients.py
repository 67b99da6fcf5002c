"""The client list: search, filters, sort and keyset pages (/admin/clients)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, render_template, request, url_for

from app.admin import paging
from app.admin.blueprint import bp
from app.clients import search
from app.clients.models import Client, ClientGroup, ClientKind, ClientStatus, User, UserRole
from app.clients.search import SORTS, BadListQuery, ClientQuery, client_listing
from app.extensions import db
from app.invoices.models import DocumentKind, Invoice, InvoiceStatus

#: What a client owes: its unpaid proformas (tax invoices are paid by definition).
_UNPAID = (Invoice.kind == DocumentKind.PROFORMA, Invoice.status == InvoiceStatus.UNPAID)


def unpaid_totals(client_ids: list[int]) -> dict[int, int]:
    """The unpaid total of each client on a page (minor units), in one query."""
    if not client_ids:
        return {}
    rows = db.session.execute(
        sa.select(Invoice.client_id, sa.func.sum(Invoice.total_minor - Invoice.amount_paid_minor))
        .where(Invoice.client_id.in_(client_ids), *_UNPAID)
        .group_by(Invoice.client_id)
    )
    return {client_id: total for client_id, total in rows}


def client_href(client_id: int) -> str:
    """The client's profile; a literal path until admin.client is registered."""
    if "admin.client" in current_app.view_functions:
        return url_for("admin.client", client_id=client_id)
    return f"/admin/clients/{client_id}"


def _choices() -> dict:
    """What the filter form offers (the allow-lists the query checks)."""
    groups = db.session.execute(sa.select(ClientGroup.id, ClientGroup.name).order_by(ClientGroup.name)).all()
    return {"statuses": list(ClientStatus), "kinds": list(ClientKind), "groups": groups, "sorts": SORTS}


def _clients_page(query: ClientQuery) -> tuple[list[tuple[Client, str | None]], str | None]:
    """One keyset page of the clients `query` asks for, each with its owner's email (one
    statement), and the cursor of the next page.
    Raises BadListQuery for a value outside the allow-list (a bad cursor is a 400 too)."""
    # Any proforma or invoice number finds its client (invoices.number is unique: indexed).
    by_invoice = sa.select(Invoice.client_id).where(Invoice.number == query.q.strip().upper())
    unpaid = sa.select(Invoice.client_id).where(*_UNPAID)
    listing = client_listing(query, also=[by_invoice], unpaid=unpaid)
    with_owner = listing.select.outerjoin(
        User, sa.and_(User.client_id == Client.id, User.role == UserRole.OWNER)
    ).add_columns(User.email)
    found = paging.keyset_page(
        with_owner,
        listing.order,
        after=query.after,
        descending=listing.descending,
        size=search.PAGE_SIZE,
        key_of=lambda row: listing.key_of(row[0]),
        types=listing.types,
        scalars=False,
    )
    return found.rows, found.after


@bp.route("/clients")
def clients():
    args = request.args
    query = ClientQuery(
        q=args.get("q", "")[:200],
        status=args.get("status", ""),
        kind=args.get("kind", ""),
        country=args.get("country", ""),
        group=args.get("group", ""),
        has_unpaid=args.get("has_unpaid", ""),
        balance=args.get("balance", ""),
        sort=args.get("sort", "id"),
        direction=args.get("dir", "desc"),
        after=args.get("after", ""),
    )
    try:
        rows, next_cursor = _clients_page(query)
    except BadListQuery as error:
        # Say what was wrong: an unknown value is a hand-edited URL, not "no clients".
        return render_template("admin/clients.html", error=str(error), clients=[], query=query, **_choices()), 400
    params = {k: v for k, v in args.items() if k != "after" and v}
    next_url = url_for("admin.clients", **params, after=next_cursor) if next_cursor else None
    page = [client for client, _email in rows]
    context = dict(
        clients=page,
        emails={client.id: email for client, email in rows if email},
        unpaid=unpaid_totals([c.id for c in page]),
        next_url=next_url,
        query=query,
        client_href=client_href,
        **_choices(),
    )
    if request.headers.get("HX-Request") and query.after:
        return render_template("admin/_client_rows.html", **context)
    return render_template("admin/clients.html", **context)
