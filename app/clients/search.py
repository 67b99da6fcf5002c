"""The staff client list: one search box, filters, an allow-listed sort and keyset pages."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app.clients.models import Client, ClientKind, ClientStatus, User

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
    """Clients matching `q` by name, company, email, client ID (#123), VAT ID, phone or invoice number.

    A UNION of one select per field, each answered by its own prefix index (ix_search_*
    on PostgreSQL); one OR over them all would make the planner walk every client."""
    text = q.strip().lower()
    like = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    matches = [
        sa.select(Client.id).where(sa.func.lower(Client.name).like(like, escape="\\")),
        sa.select(Client.id).where(sa.func.lower(Client.company_name).like(like, escape="\\")),
        sa.select(Client.id).where(sa.func.lower(Client.tax_id).like(like, escape="\\")),
        # Emails are stored lower-cased: no lower() here, so ix_search_users_email serves it.
        sa.select(User.client_id).where(User.email.like(like, escape="\\")),
        sa.select(User.client_id).where(User.phone.like(like, escape="\\")),
        *also,
    ]
    digits = text.removeprefix("#")
    if digits.isdigit() and len(digits) < 10:
        matches.append(sa.select(Client.id).where(Client.id == int(digits)))
    return Client.id.in_(sa.union(*matches))


@dataclass(frozen=True)
class ClientListing:
    """A list of clients to page by keyset: the filtered select, the sort key (its columns,
    the id last, and their types) and its direction."""

    select: sa.Select
    order: list
    types: list
    descending: bool

    def key_of(self, client: Client) -> list:
        """A client's place in the list (what a cursor holds)."""
        return [getattr(client, column.key) for column in self.order]


def client_listing(query: ClientQuery, also=(), unpaid=None) -> ClientListing:
    """The clients `query` asks for, in its order (paged by the caller: app/admin/paging.py).

    `also`: selects of client ids that match the search too, from the layers above
    clients (the admin passes the clients of an invoice number); `unpaid`: a select of
    the ids of clients with something unpaid, for the has_unpaid filter.
    Raises BadListQuery for a sort or filter outside the allow-list."""
    query.validate()
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
    if query.sort == "id":
        order, types = [Client.id], [int]
    else:
        order, types = [SORTS[query.sort], Client.id], [str if query.sort == "name" else int, int]
    return ClientListing(stmt, order, types, descending=query.direction == "desc")
