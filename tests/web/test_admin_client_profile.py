"""The client profile /admin/clients/<id>: found from the list, it names the client and its money."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from app.clients.models import Client
from app.extensions import db
from app.invoices.models import Invoice
from app.staff import privileges as P
from tests.helpers import count_statements, make_owner, make_proforma, make_service
from tests.support.staff import make_staff, sign_in_staff

XSS = "<script>alert(1)</script>"


def _viewer(app):
    client = app.test_client()
    sign_in_staff(client, make_staff(app, P.VIEW_CLIENTS, email="viewer@example.com"))
    return client


def test_the_list_links_to_the_profile_holding_name_email_client_id_and_balance(app, owner):
    with app.app_context():
        client = db.session.get(Client, owner.client_id)
        client.name, client.balance_minor = "Ioana Pop", 4321  # (a test shortcut for the balance)
        db.session.commit()
    staff = _viewer(app)
    listing = staff.get("/admin/clients", query_string={"q": owner.email}).get_data(as_text=True)
    assert f'href="/admin/clients/{owner.client_id}"' in listing
    page = staff.get(f"/admin/clients/{owner.client_id}").get_data(as_text=True)
    assert "Ioana Pop" in page and owner.email in page
    assert f'Client ID <span class="mono strong">{owner.client_id}</span>' in page
    assert "€43.21" in page


def test_the_summary_shows_unpaid_overdue_and_services(app, owner):
    number = make_proforma(app, owner.client_id, 1000)
    make_service(app, owner.client_id, due=date(2026, 12, 1))
    with app.app_context():
        total = db.session.scalar(sa.select(Invoice.total_minor).where(Invoice.number == number))
    page = _viewer(app).get(f"/admin/clients/{owner.client_id}").get_data(as_text=True)
    summary = page.split('aria-label="Summary"', 1)[1].split("</section>", 1)[0]
    unpaid = summary.split("Unpaid</span>", 1)[1].split("</div>", 1)[0]
    assert f"€{total / 100:.2f}" in unpaid
    assert "1 active" in summary


def test_a_script_name_is_text_on_the_profile(app, owner):
    with app.app_context():
        db.session.get(Client, owner.client_id).name = XSS
        db.session.commit()
    page = _viewer(app).get(f"/admin/clients/{owner.client_id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and XSS not in page


def test_an_unknown_client_is_404_and_staff_without_view_clients_get_403(app, owner):
    staff = _viewer(app)
    assert staff.get("/admin/clients/999999").status_code == 404
    other = app.test_client()
    sign_in_staff(other, make_staff(app, P.APPROVE_PAYMENTS, email="payer@example.com"))
    assert other.get(f"/admin/clients/{owner.client_id}").status_code == 403


def test_the_profile_queries_do_not_grow_with_the_clients_rows(app, owner):
    staff = _viewer(app)

    def statements() -> int:
        return count_statements(app, lambda: staff.get(f"/admin/clients/{owner.client_id}"))

    make_proforma(app, owner.client_id, 1000)
    make_service(app, owner.client_id, due=date(2026, 12, 1))
    few = statements()
    for _ in range(10):
        make_proforma(app, owner.client_id, 1000)
        make_service(app, owner.client_id, due=date(2026, 12, 1))
    make_owner(app, email="other@example.com")
    assert statements() == few
