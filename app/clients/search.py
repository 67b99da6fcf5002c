"""The staff client list: one search box, filters, an allow-listed sort and keyset pages."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app.clients.models import Client, ClientKind, ClientStatus, User, UserRole
from app.extensions import db

PAGE_SIZE = 50

#: The sorts a list may ask for; each is backed by an index (the primary key,
#: ix_clients_name_id, ix_clients_balance_minor_id). The client ID is also the signup order.
SORTS = {"id": Client.id, "name": Client.name, "balance": Client.balance_minor}


class BadListQuery(ValueError):
    """A sort or filter value outside the allow-list."""


@dataclass(frozen=True)
class ClientQuery:
    q: str = ""
    status: str = ""
    kind: str = ""
    country: str = ""
    group: str = ""  # a client group's id
    has_unpaid: str = ""  # "1": only clients with an unpaid proforma
    balance: str = ""  # "positive": only clients with credit
    sort: str = "id"
    direction: str = "desc"
    after: str = ""

    def validate(self) -> None:
        if self.sort not in SORTS:
            raise BadListQuery(f"sort must be one of: {', '.join(SORTS)}")
        if self.direction not in ("asc", "desc"):
            raise BadListQuery("dir must be asc or desc")
        if self.status and self.status not in {s.value for s in ClientStatus}:
            raise BadListQuery(f"status must be one of: {', '.join(s.value for s in ClientStatus)}")
        if self.kind and self.kind not in {k.value for k in ClientKind}:
            raise BadListQuery(f"kind must be one of: {', '.join(k.value for k in ClientKind)}")
        if self.country and not (len(self.country) == 2 and self.country.isalpha()):
            raise BadListQuery("country must be a two-letter code")
        if self.group and not (self.group.isdigit() and len(self.group) < 10):
            raise BadListQuery("group must be a client group's number")
        if self.has_unpaid not in ("", "1"):
            raise BadListQuery("has_unpaid must be 1 or left out")
        if self.balance not in ("", "positive"):
            raise BadListQuery("balance must be positive or left out")


def _search(q: str, also):
    """Clients matching `q` by name, company, email, client ID (#123), VAT ID, phone or invoice number."""
    text = q.strip().lower()
    like = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    # Emails are stored lower-cased: no lower() here, so ix_search_users_email serves it.
    users = sa.select(User.client_id).where(
        sa.or_(User.email.like(like, escape="\\"), User.phone.like(like, escape="\\"))
    )
    conditions = [
        sa.func.lower(Client.name).like(like, escape="\\"),
        sa.func.lower(Client.company_name).like(like, escape="\\"),
        sa.func.lower(Client.tax_id).like(like, escape="\\"),
        Client.id.in_(users),
        *(Client.id.in_(ids) for ids in also),
    ]
    digits = text.removeprefix("#")
    if digits.isdigit() and len(digits) < 10:
        conditions.append(Client.id == int(digits))
    return sa.or_(*conditions)


def _cursor(client: Client, sort: str) -> str:
    if sort == "id":
        return str(client.id)
    return f"{client.id}:{client.balance_minor if sort == 'balance' else client.name}"


def list_clients(query: ClientQuery, also=(), unpaid=None) -> tuple[list[Client], str | None]:
    """One page of clients and the cursor of the next page (None on the last).

    `also`: selects of client ids that match the search too, from the layers above
    clients (the admin passes the clients of an invoice number); `unpaid`: a select of
    the ids of clients with something unpaid, for the has_unpaid filter."""
    query.validate()
    column = SORTS[query.sort]
    stmt = sa.select(Client).options(joinedload(Client.group))
    if query.q.strip():
        stmt = stmt.where(_search(query.q, also))
    if query.status:
        stmt = stmt.where(Client.status == ClientStatus(query.status))
    if query.kind:
        stmt = stmt.where(Client.kind == ClientKind(query.kind))
    if query.country:
        stmt = stmt.where(Client.country == query.country.upper())
    if query.group:
        stmt = stmt.where(Client.group_id == int(query.group))
    if query.balance:
        stmt = stmt.where(Client.balance_minor > 0)
    if query.has_unpaid and unpaid is not None:
        stmt = stmt.where(Client.id.in_(unpaid))
    if query.after:
        id_text, _, value = query.after.partition(":")
        if not id_text.isdigit():
            raise BadListQuery("after is not a cursor of this list")
        last_id, key = int(id_text), (int(id_text) if query.sort == "id" else value)
        if query.sort == "balance":
            if not value.lstrip("-").isdigit():
                raise BadListQuery("after is not a cursor of this list")
            key = int(value)
        newer = column > key if query.direction == "asc" else column < key
        same = Client.id > last_id if query.direction == "asc" else Client.id < last_id
        stmt = stmt.where(sa.or_(newer, sa.and_(column == key, same)) if query.sort != "id" else newer)
    order = (column.asc(), Client.id.asc()) if query.direction == "asc" else (column.desc(), Client.id.desc())
    rows = db.session.scalars(stmt.order_by(*order).limit(PAGE_SIZE + 1)).all()
    page = list(rows[:PAGE_SIZE])
    return page, (_cursor(page[-1], query.sort) if len(rows) > PAGE_SIZE else None)


def owner_emails(client_ids: list[int]) -> dict[int, str]:
    """The owner's email of each client on a page, in one query."""
    if not client_ids:
        return {}
    rows = db.session.execute(
        sa.select(User.client_id, User.email).where(User.client_id.in_(client_ids), User.role == UserRole.OWNER)
    )
    return {client_id: email for client_id, email in rows}
