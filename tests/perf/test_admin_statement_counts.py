"""The staff admin's client search and client profile cost a fixed number of SQL statements
whatever the data size: a client with a few rows or many (more than a page of each) is read
with the same statements, on every tab, as a page and as an htmx fragment, and no list
reads with OFFSET."""

from __future__ import annotations

import re

import pytest

from app.admin import client_tabs, paging
from app.clients import search
from app.extensions import db
from app.staff import privileges as P
from tests.helpers import make_owner
from tests.support.client_profile import fill_client
from tests.support.staff import make_staff, sign_in_staff
from tests.support.statements import statements_for_get

TABS = [*client_tabs.TABS, "settings"]
FRAGMENT = {"HX-Request": "true", "HX-Target": "client-tabs"}


@pytest.fixture
def small_pages(monkeypatch):
    """Two rows a page, so that "much" data is more than a page of every list."""
    monkeypatch.setattr(client_tabs, "PAGE", 2)
    monkeypatch.setattr(search, "PAGE_SIZE", 2)
    monkeypatch.setattr(paging, "STAFF_PAGE", 2)


@pytest.fixture
def staff(app):
    browser = app.test_client()
    sign_in_staff(browser, make_staff(app, superuser=True, email="perf-staff@example.com"))
    return browser


def _urls(client_id: int) -> list[tuple[str, dict]]:
    base = f"/admin/clients/{client_id}"
    urls = [
        ("/admin/clients", {}),
        ("/admin/clients?q=perf", {}),
        ("/admin/clients?q=perf&sort=name&dir=asc", {}),
        ("/admin/clients?q=perf&sort=balance", {}),
        ("/admin/staff", {}),
        ("/admin/approvals", {}),
        (base, {}),
    ]
    for tab in TABS:
        urls += [(f"{base}/{tab}", {}), (f"{base}/{tab}", FRAGMENT)]
    return urls


def _counts(app, staff, urls) -> dict[str, int]:
    # SQLite's compiler writes "OFFSET 0" after every LIMIT: only PostgreSQL's SQL tells.
    with app.app_context():
        postgresql = db.engine.dialect.name == "postgresql"
    counts = {}
    for url, headers in urls:
        statements = _statements(app, staff, url, headers)
        offset = [s for s in statements if postgresql and re.search(r"\bOFFSET\b", s, re.IGNORECASE)]
        assert not offset, f"{url}: {offset}"
        counts[f"{url} {'(htmx)' if headers else ''}".strip()] = len(statements)
    return counts


def _statements(app, staff, url, headers):
    from tests.support.statements import recorded_statements

    if not headers:
        return statements_for_get(app, staff, url)
    with recorded_statements(app) as statements:
        response = staff.get(url, headers=headers)
    assert response.status_code == 200, f"GET {url}: {response.status_code}"
    assert "<html" not in response.get_data(as_text=True), url
    return statements


def _more_staff(app, n: int) -> None:
    for i in range(n):
        make_staff(app, P.VIEW_CLIENTS, email=f"perf-clerk{i}@example.com", name=f"Clerk {i}", with_2fa=False)


def test_search_profile_and_tabs_cost_the_same_for_a_little_and_much_data(app, staff, small_pages):
    owner = make_owner(app, email="perf-owner@example.com", name="Perf Owner")
    fill_client(app, owner.client_id, owner.user_id, "small")
    urls = _urls(owner.client_id)
    _counts(app, staff, urls)  # warm: what a process reads once (templates, settings)
    little = _counts(app, staff, urls)

    fill_client(app, owner.client_id, owner.user_id, "big", n=3)
    for i in range(4):
        make_owner(app, email=f"perf{i}@example.com", name=f"Perf Client {i}")
    make_owner(app, email="someone@example.com", name="Someone Else")
    _more_staff(app, 3)
    much = _counts(app, staff, urls)

    assert much == little


def test_older_pages_cost_the_same_as_the_first(app, staff, small_pages):
    owner = make_owner(app, email="perf-owner@example.com", name="Perf Owner")
    fill_client(app, owner.client_id, owner.user_id, "big", n=3)
    for i in range(4):
        make_owner(app, email=f"perf{i}@example.com", name=f"Perf Client {i}")
    _more_staff(app, 3)
    base = f"/admin/clients/{owner.client_id}"
    for first in [
        "/admin/clients?q=perf",
        "/admin/clients?q=perf&sort=name&dir=asc",
        "/admin/staff",
        f"{base}/invoices",
        f"{base}/transactions",
        f"{base}/messages",
        f"{base}/logs",
        f"{base}/services",
        f"{base}/files",
        f"{base}/orders",
    ]:
        html = staff.get(first).get_data(as_text=True)
        older = re.search(r'href="([^"]*(?:after|_before)=[^"]+)"', html)
        assert older, f"{first}: no link to the next page"
        second = older.group(1).replace("&amp;", "&")
        assert len(statements_for_get(app, staff, second)) == len(statements_for_get(app, staff, first)), second


@pytest.mark.parametrize(
    "path",
    [
        "/admin/clients?after=not-a-cursor",
        "/admin/clients?sort=name&after=WzEsMl0",  # [1, 2]: a name must be text
        "/admin/clients?after=WyJ4Il0",  # ["x"]: an id must be a number
        "/admin/staff?after=WzFd",  # [1]: the staff list's cursor is [name, id]
        "/admin/approvals?decided_after=e30",  # {}: not a list
        "/admin/clients/{id}/messages?emails_after=WzEuNV0",  # [1.5]
    ],
)
def test_a_cursor_not_made_by_the_list_is_a_400(app, staff, path):
    owner = make_owner(app, email="perf-owner@example.com", name="Perf Owner")
    assert staff.get(path.format(id=owner.client_id)).status_code == 400
