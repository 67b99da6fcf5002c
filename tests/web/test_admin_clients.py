"""The staff client list /admin/clients: search, filters, sort, keyset pages, escaping, access."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.clients.models import Client, ClientGroup, ClientStatus
from app.extensions import db
from app.invoices.models import Invoice
from app.staff import privileges as P
from tests.helpers import count_statements, make_owner, make_proforma
from tests.support.staff import make_staff, sign_in_staff


def _edit(app, client_id, **fields):
    with app.app_context():
        client = db.session.get(Client, client_id)
        for name, value in fields.items():
            setattr(client, name, value)
        db.session.commit()


@pytest.fixture
def viewer(app, client):
    sign_in_staff(client, make_staff(app, P.VIEW_CLIENTS, email="viewer@example.com"))
    return client


def _ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'href="/admin/clients/(\d+)"', html)]


@pytest.fixture
def two(app):
    a = make_owner(app, email="maria.pop@example.com", name="Maria Pop", phone="+40721000111")
    b = make_owner(app, email="dan@example.org", name="Dan Stan")
    _edit(app, a.client_id, company_name="Acme Hosting SRL", tax_id="RO12345678")
    return a, b


@pytest.mark.parametrize(
    "q", ["maria", "MARIA P", "maria.pop@", "Acme", "RO1234", "+40721", "{id}", "#{id}", "{invoice}"]
)
def test_search_finds_the_client_by_each_field(app, viewer, two, q):
    a, _b = two
    number = make_proforma(app, a.client_id)
    html = viewer.get("/admin/clients", query_string={"q": q.format(id=a.client_id, invoice=number)}).text
    assert _ids(html) == [a.client_id]
    assert "maria.pop@example.com" in html


def test_filters_and_sort_both_directions(app, viewer, two):
    a, b = two
    _edit(app, b.client_id, status=ClientStatus.SUSPENDED, country="DE")
    assert _ids(viewer.get("/admin/clients?status=suspended").text) == [b.client_id]
    assert _ids(viewer.get("/admin/clients?country=de").text) == [b.client_id]
    assert _ids(viewer.get("/admin/clients?kind=organization").text) == []
    assert _ids(viewer.get("/admin/clients?sort=name&dir=asc").text) == [b.client_id, a.client_id]
    assert _ids(viewer.get("/admin/clients?sort=name&dir=desc").text) == [a.client_id, b.client_id]
    assert _ids(viewer.get("/admin/clients?sort=id&dir=asc").text) == [a.client_id, b.client_id]


def test_group_unpaid_and_credit_filters_and_the_balance_sort(app, viewer, two):
    a, b = two
    with app.app_context():
        group = ClientGroup(name="Resellers")
        db.session.add(group)
        db.session.flush()
        group_id = group.id
        db.session.commit()
    _edit(app, a.client_id, group_id=group_id)
    _edit(app, b.client_id, balance_minor=2500)  # (a test shortcut: money moves only through the ledger)
    number = make_proforma(app, a.client_id, 1999)
    with app.app_context():
        total = db.session.scalar(sa.select(Invoice.total_minor).where(Invoice.number == number))

    page = viewer.get(f"/admin/clients?group={group_id}").text
    assert _ids(page) == [a.client_id] and "Resellers" in page
    unpaid = viewer.get("/admin/clients?has_unpaid=1").text
    assert _ids(unpaid) == [a.client_id] and f"€{total / 100:.2f}" in unpaid
    assert _ids(viewer.get("/admin/clients?balance=positive").text) == [b.client_id]
    assert _ids(viewer.get("/admin/clients?sort=balance&dir=desc").text) == [b.client_id, a.client_id]
    assert _ids(viewer.get("/admin/clients?sort=balance&dir=asc").text) == [a.client_id, b.client_id]


@pytest.mark.parametrize(
    "query",
    [
        "sort=password_hash",
        "dir=up",
        "status=gone",
        "kind=alien",
        "country=ROU",
        "group=x",
        "has_unpaid=yes",
        "balance=-1",
    ],
)
def test_values_outside_the_allow_list_are_400(viewer, query):
    response = viewer.get(f"/admin/clients?{query}")
    assert response.status_code == 400
    assert "must be" in response.text


def _many(app, n):
    return [
        make_owner(app, email=f"c{i}-{len(str(n))}{n}@example.com", name=f"Client {i:03d}").client_id for i in range(n)
    ]


@pytest.mark.parametrize("sort", ["id", "name", "balance"])
def test_keyset_next_page_has_no_overlap_and_no_gap(app, viewer, sort):
    ids = _many(app, 55)
    first = viewer.get(f"/admin/clients?sort={sort}&dir=asc").text
    assert len(_ids(first)) == 50
    next_url = re.search(r'hx-get="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert 'href="' + re.search(r'hx-get="([^"]+)"', first).group(1) in first  # works without JS
    more = viewer.get(next_url, headers={"HX-Request": "true"}).text
    assert "<table" not in more  # only the rows partial
    assert _ids(first) + _ids(more) == sorted(ids)
    assert "Load more" not in more


def test_a_script_name_is_escaped(app, viewer):
    make_owner(app, email="x@example.com", name="<script>alert(1)</script>")
    html = viewer.get("/admin/clients").text
    assert "&lt;script&gt;" in html
    assert "<script>alert(1)" not in html


def test_staff_without_view_clients_get_403(app, client):
    sign_in_staff(client, make_staff(app, P.MANAGE_STAFF, email="hr@example.com"))
    assert client.get("/admin/clients").status_code == 403


def test_search_by_email_links_to_the_profile(app, viewer, two):
    a, _ = two
    html = viewer.get("/admin/clients?q=maria.pop@example.com").text
    assert f'href="/admin/clients/{a.client_id}"' in html


def test_statement_count_does_not_grow_with_the_page(app, viewer):
    def statements():
        return count_statements(app, lambda: viewer.get("/admin/clients"))

    _many(app, 5)
    few = statements()
    _many(app, 55)
    assert statements() == few


@pytest.mark.postgresql
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_on_postgresql_the_search_uses_its_indexes(app):
    """EXPLAIN of the search's prefix matches: an index scan, not a sequential scan
    (sequential scans are switched off so the planner shows what it can use on a tiny table)."""
    with app.app_context():
        db.session.execute(sa.text("SET enable_seqscan = off"))
        for sql in (
            "SELECT id FROM clients WHERE lower(name) LIKE 'mar%'",
            "SELECT id FROM clients WHERE lower(company_name) LIKE 'acm%'",
            "SELECT id FROM clients WHERE lower(tax_id) LIKE 'ro12%'",
            "SELECT client_id FROM users WHERE email LIKE 'maria%'",
            "SELECT client_id FROM users WHERE phone LIKE '+4072%'",
        ):
            plan = " ".join(row[0] for row in db.session.execute(sa.text("EXPLAIN " + sql)))
            assert "ix_search_" in plan and "Seq Scan" not in plan, (sql, plan)
        db.session.rollback()
