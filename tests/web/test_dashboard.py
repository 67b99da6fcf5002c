"""The dashboard: the summary tiles and what needs the client's attention."""

from __future__ import annotations

import re
from datetime import timedelta

from app.core.dates import today
from tests.helpers import login, make_owner, make_proforma, make_service, pay
from tests.support.trusted import add_trusted


def section(page: str, title_id: str) -> str:
    match = re.search(rf'<section[^>]*aria-labelledby="{title_id}".*?</section>', page, re.S)
    assert match, f"no section {title_id} on the dashboard"
    return match.group(0)


def test_the_dashboard_lists_invoices_to_pay_and_renewals_due_soon(app, client):
    owner = make_owner(app)
    other = make_owner(app, email="other@example.com")
    soon, later = today() + timedelta(days=10), today() + timedelta(days=45)
    make_service(app, owner.client_id, due=soon, label="soon.example", price_minor=1500)
    make_service(app, owner.client_id, due=later, label="later.example")
    make_service(app, owner.client_id, due=soon, label="gone.example", status="terminated")
    make_service(app, other.client_id, due=soon, label="not-mine.example")
    unpaid = make_proforma(app, owner.client_id, 1000)
    paid = make_proforma(app, owner.client_id, 2000)
    pay(app, paid)
    make_proforma(app, other.client_id, 3000)
    login(client)

    page = client.get("/").get_data(as_text=True)

    to_pay = section(page, "to-pay-title")
    assert unpaid in to_pay and paid not in to_pay and to_pay.count("<tr>") == 2  # header + one invoice
    assert "€12.10" in to_pay and "Overdue" in to_pay  # due 8 Nov 2026, VAT included
    assert f'href="/invoices/pay?invoice={unpaid}"' in to_pay
    renewals = section(page, "renewals-title")
    assert "soon.example" in renewals and "€15.00" in renewals and soon.strftime("%d %b %Y") in renewals
    assert "later.example" not in renewals and "gone.example" not in renewals and "not-mine" not in renewals


def test_a_new_client_sees_no_attention_lists(app, client):
    make_owner(app)
    login(client)
    page = client.get("/").get_data(as_text=True)
    assert "Invoices to pay" not in page and "Renewals in the next" not in page
    assert 'class="tiles"' in page


def test_a_trusted_user_sees_only_the_lists_it_may_open(app, client):
    owner = make_owner(app)
    make_service(app, owner.client_id, due=today() + timedelta(days=3), label="soon.example")
    make_proforma(app, owner.client_id, 1000)
    add_trusted(app, owner.client_id, ["services"], "services@example.com")
    add_trusted(app, owner.client_id, ["invoices.view"], "viewer@example.com")

    login(client, "services@example.com", "trusted-password-1")
    page = client.get("/").get_data(as_text=True)
    assert "soon.example" in section(page, "renewals-title") and "Invoices to pay" not in page

    viewer = app.test_client()
    login(viewer, "viewer@example.com", "trusted-password-1")
    page = viewer.get("/").get_data(as_text=True)
    to_pay = section(page, "to-pay-title")
    assert "Renewals in the next" not in page
    assert "/invoices/pay" not in to_pay, "a user who may not pay gets no Pay button"
