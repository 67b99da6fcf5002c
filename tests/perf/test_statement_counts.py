"""Each client page costs the same number of SQL statements whatever the client's data size.

Two clients side by side: one with a little of everything, one with twenty times more
(invoices with lines, ledger entries, emails, services). A page whose statement count
differs between them has a query per row (an N+1) or a query that grows with the data;
the list pages must also never use OFFSET (a deep page would cost its depth).
"""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.invoices.models import Invoice
from app.invoices.services import LineSpec
from app.wallet.models import EntryKind
from tests import factories
from tests.helpers import login, make_owner
from tests.support.notifications import make_email
from tests.support.statements import statements_for_get

PER_PAGE = 5


def fill(app, client_id: int, user_id: int, *, invoices: int, entries: int, emails: int, services: int) -> str:
    """`invoices` documents (two thirds paid: proforma + tax invoice, each with three lines),
    `entries` ledger entries (some naming an invoice), `emails` emails and `services` services;
    returns the number of the client's biggest proforma."""
    with app.app_context():
        for n in range(services):
            factories.ServiceFactory(client_id=client_id, label=f"site{n}.example", next_due_date=date(2026, 12, 1))
        numbers = []
        for n in range(invoices):
            lines = [LineSpec(f"Hosting {n}.{k}", 1000 + k) for k in range(3)]
            day = date(2026, 1, 1) + timedelta(days=n % 300)
            proforma = factories.ProformaFactory(client_id=client_id, lines=lines, issue_date=day, due_date=day)
            numbers.append(proforma.number)
            if n % 3:
                factories.TaxInvoiceFactory(proforma=proforma)
        invoice_ids = db.session.scalars(sa.select(Invoice.id).where(Invoice.client_id == client_id)).all()
        for n in range(entries):
            factories.LedgerEntryFactory(
                client_id=client_id,
                amount_minor=500,
                kind=EntryKind.ADJUSTMENT,
                key=uuid.uuid4().hex,
                invoice_id=invoice_ids[n % len(invoice_ids)] if invoice_ids and n % 2 else None,
            )
        # One proforma with many lines: the invoice view must not pay per line.
        big = factories.ProformaFactory(
            client_id=client_id, lines=[LineSpec(f"Domain {k}", 900) for k in range(max(3, invoices // 3))]
        )
        db.session.commit()
        number = big.number
    for n in range(emails):
        make_email(app, client_id, user_id, f"Message {n}")
    return number


@pytest.fixture
def signed_in(app):
    """(small, large): a test client signed in as a client with little data, and one with much more."""
    app.config.update(INVOICES_PER_PAGE=PER_PAGE, LEDGER_PER_PAGE=PER_PAGE, NOTIFICATIONS_PER_PAGE=PER_PAGE)
    sizes = {
        "small": {"invoices": 3, "entries": 3, "emails": 2, "services": 1},
        "large": {"invoices": 60, "entries": 60, "emails": 40, "services": 15},
    }
    browsers = {}
    for name, size in sizes.items():
        account = make_owner(app, email=f"{name}@example.com")
        number = fill(app, account.client_id, account.user_id, **size)
        browser = app.test_client()
        login(browser, account.email, account.password)
        browsers[name] = (browser, number)
    return browsers["small"], browsers["large"]


PAGES = [
    "/",
    "/invoices",
    "/invoices?status=unpaid",
    "/invoices?status=paid",
    "/invoices/{number}",
    "/wallet",
    "/wallet/statement",
    "/account/notifications",
]

LISTS = {"/invoices": "invoice-list", "/wallet": "ledger", "/account/notifications": "notification-list"}


def count_for(app, browser, path: str) -> list[str]:
    browser.get(path)  # the first request of a browser may do one-off work (a session touch)
    return statements_for_get(app, browser, path)


def _no_offset(statements: list[str], path: str) -> None:
    # SQLAlchemy's SQLite dialect writes every LIMIT as "LIMIT ? OFFSET ?" with an offset of 0
    # (a bound parameter, not seen here): the PostgreSQL run, whose dialect writes OFFSET only when
    # a query asks for one, is the one that catches a paged OFFSET.
    offsets = [s for s in statements if re.search(r"\bOFFSET\b(?! \?)", s, re.I)]
    assert not offsets, f"{path} pages with OFFSET: {offsets}"


@pytest.mark.parametrize("page", PAGES)
def test_a_page_costs_the_same_statements_for_a_small_and_a_large_client(app, signed_in, page):
    (small, small_number), (large, large_number) = signed_in
    few = count_for(app, small, page.format(number=small_number))
    many = count_for(app, large, page.format(number=large_number))
    assert len(many) == len(few), (
        f"{page}: {len(few)} statements for the small client, {len(many)} for the large one:\n" + "\n".join(many)
    )
    _no_offset(many, page)


def _older_link(html: str, path: str) -> str | None:
    match = re.search(r'href="(' + re.escape(path) + r'\?[^"]*before=[^"]+)"', html)
    return match.group(1).replace("&amp;", "&") if match else None


@pytest.mark.parametrize(("path", "query"), [("/invoices", ""), ("/invoices", "?status=paid"), ("/wallet", "")])
def test_a_deep_keyset_page_costs_what_the_first_page_costs(app, signed_in, path, query):
    _, (large, _) = signed_in
    first = count_for(app, large, path + query)
    url, depth = path + query, 0
    while True:  # follow "Older" to the last page
        older = _older_link(large.get(url).get_data(as_text=True), path)
        if older is None:
            break
        url, depth = older, depth + 1
    assert depth >= 3, f"{path}{query}: only {depth} older pages"
    if query:
        assert query.lstrip("?") in url, "the filter stays in the links"
    deep = count_for(app, large, url)
    assert len(deep) == len(first), f"{url}: {len(deep)} statements, page 1 {len(first)}"
    _no_offset(deep, url)


def test_the_notifications_archive_pages_deep_at_the_same_cost(app, signed_in):
    _, (large, _) = signed_in
    first = count_for(app, large, "/account/notifications")
    older = _older_link(large.get("/account/notifications").get_data(as_text=True), "/account/notifications")
    assert older is not None
    second = _older_link(large.get(older).get_data(as_text=True), "/account/notifications")
    assert second is not None
    deep = count_for(app, large, second)
    assert len(deep) == len(first)
    _no_offset(deep, second)
