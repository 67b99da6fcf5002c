"""The client profile's tabs: each its own URL, a fragment for htmx, every table shown,
everything escaped, and a fixed number of queries whatever the client's size."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEntry
from app.clients.models import Client
from app.extensions import db
from app.staff import privileges as P
from tests.helpers import count_statements, csrf_from, make_owner
from tests.support.client_profile import fill_client
from tests.support.staff import make_staff, sign_in_staff

XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
TABS = [
    "summary",
    "contacts",
    "orders",
    "services",
    "invoices",
    "transactions",
    "messages",
    "logs",
    "notes",
    "files",
    "settings",
]


def _staff(app, *privileges, email="viewer@example.com"):
    client = app.test_client()
    sign_in_staff(client, make_staff(app, *(privileges or (P.VIEW_CLIENTS,)), email=email))
    return client


def _panel(html: str) -> str:
    return html.split('class="tab-panel"', 1)[1]


def _without_csrf(html: str) -> str:
    # A CSRF token carries the second it was signed in: two requests a second apart differ there.
    return re.sub(r'(value=)"[\w.-]{40,}"', r'\1"-"', html)


@pytest.fixture
def filled(app, owner):
    with app.app_context():
        db.session.get(Client, owner.client_id).name = XSS
        db.session.commit()
    fill_client(app, owner.client_id, owner.user_id, XSS)
    return owner


def test_each_tab_is_a_page_and_an_htmx_fragment_of_the_same_url(app, filled):
    staff = _staff(app)
    for tab in TABS:
        url = f"/admin/clients/{filled.client_id}/{tab}"
        page = staff.get(url)
        html = page.get_data(as_text=True)
        assert page.status_code == 200, tab
        assert "<html" in html and 'class="page-head"' in html, tab
        assert (
            f'href="{url}" hx-get="{url}" hx-target="#client-tabs" hx-swap="outerHTML" '
            'hx-push-url="true" aria-current="page"' in html
        )
        fragment = staff.get(url, headers={"HX-Request": "true", "HX-Target": "client-tabs"})
        part = fragment.get_data(as_text=True)
        assert (
            fragment.status_code == 200 and "<html" not in part and part.lstrip().startswith('<div id="client-tabs"')
        ), tab
        assert "HX-Request" in fragment.headers["Vary"]
        restore = {"HX-Request": "true", "HX-Target": "client-tabs", "HX-History-Restore-Request": "true"}
        assert "<html" in staff.get(url, headers=restore).get_data(as_text=True), tab  # back button: the page
        # The panel is the same either way.
        assert _without_csrf(_panel(part).split("</section>\n</div>", 1)[0]) in _without_csrf(html)


def test_an_unknown_tab_is_404_and_the_summary_is_the_profile(app, filled):
    staff = _staff(app)
    assert staff.get(f"/admin/clients/{filled.client_id}/secrets").status_code == 404
    assert staff.get("/admin/clients/999999/summary").status_code == 404
    profile = staff.get(f"/admin/clients/{filled.client_id}").get_data(as_text=True)
    assert 'aria-current="page">Summary</a>' in profile


def test_a_bad_filter_or_page_id_is_a_400(app, filled):
    staff = _staff(app)
    base = f"/admin/clients/{filled.client_id}"
    assert staff.get(f"{base}/invoices?kind=everything").status_code == 400
    assert staff.get(f"{base}/services?status=gone").status_code == 400
    assert staff.get(f"{base}/messages?emails_after=1;drop").status_code == 400


def test_every_table_of_every_tab_shows_the_clients_rows(app, filled):
    staff = _staff(app)
    base = f"/admin/clients/{filled.client_id}"

    def tab(name, **params):
        return _panel(staff.get(f"{base}/{name}", query_string=params).get_data(as_text=True))

    summary = tab("summary")
    assert "1 bank transfer to review" in summary and "1 message could not be delivered" in summary
    contacts = tab("contacts")
    assert "Trusted user" in contacts and "View and download invoices" in contacts and "Owner" in contacts
    assert "RO123" in contacts  # the saved payer
    orders = tab("orders")
    # Each order proforma, with the tax invoice it became (in its own column, never as an order).
    assert re.search(r'<tr><td class="mono nowrap">PF-\d{4}-\d+</td>', orders)
    assert not re.search(r'<tr><td class="mono nowrap">F-', orders) and re.search(r">F-\d{4}-\d+<", orders)
    services = tab("services")
    assert "site0.example" in services and "Renewal billed" in services and "Notice sent" in services
    assert f'<tr class="group-row"><td colspan="6">{ESCAPED}</td></tr>' in services
    invoices = tab("invoices")
    assert "Credit note" in invoices and "Tax invoice" in invoices and "Proforma" in invoices
    credit_notes = tab("invoices", kind="credit_note")
    assert "Credit note" in credit_notes and "Proforma</td>" not in credit_notes
    transactions = tab("transactions")
    totals = transactions.split('aria-label="Totals"', 1)[1].split("</section>", 1)[0]
    assert "€20.00" in totals and "€5.00" in totals and "€0.60" in totals and "€14.40" in totals
    assert "Visa •••• 4242" in transactions and "Adjustment" in transactions and "€10.00" in transactions
    messages = tab("messages")
    assert f"{ESCAPED} subject 0" in messages and f"{ESCAPED} body" in messages and f"{ESCAPED} sms 0" in messages
    assert "Failed" in messages and f"{ESCAPED} refused" in messages
    logs = tab("logs")
    assert "Casey Clerk (staff)" in logs and filled.email in logs  # who: staff:1, user:N by name
    assert "Old name" in logs and "client.note" in logs and "192.0.2.3" in logs and f"{ESCAPED} browser" in logs
    settings = tab("settings")
    assert 'name="locked_fields"' in settings and "Default: 5 days." in settings


@pytest.mark.parametrize("tab", TABS)
def test_a_script_typed_anywhere_is_text_on_each_tab(app, filled, tab):
    page = _staff(app).get(f"/admin/clients/{filled.client_id}/{tab}").get_data(as_text=True)
    assert XSS not in page
    assert ESCAPED in page  # the client's name in the header, at least
    if tab not in ("summary", "settings"):
        assert ESCAPED in _panel(page), tab  # and what the tab lists


@pytest.mark.parametrize("tab", TABS)
def test_a_tabs_queries_do_not_grow_with_the_clients_rows(app, owner, tab):
    staff = _staff(app)
    url = f"/admin/clients/{owner.client_id}/{tab}"
    fill_client(app, owner.client_id, owner.user_id, "small")
    few = count_statements(app, lambda: staff.get(url))
    fill_client(app, owner.client_id, owner.user_id, "big", n=4)
    make_owner(app, email="other@example.com")
    assert count_statements(app, lambda: staff.get(url)) == few


def test_older_rows_are_a_keyset_page_away(app, owner, monkeypatch):
    from app.admin import client_tabs

    monkeypatch.setattr(client_tabs, "PAGE", 2)
    fill_client(app, owner.client_id, owner.user_id, "row", n=3)
    staff = _staff(app)
    url, pages, seen = f"/admin/clients/{owner.client_id}/messages", 0, []
    while url:
        emails = _panel(staff.get(url).get_data(as_text=True)).split('<h3 class="section">SMS</h3>', 1)[0]
        seen += re.findall(r"row subject \d", emails)
        assert len(re.findall(r"<details>", emails)) <= 2
        older = re.search(r'href="(/admin/clients/\d+/messages\?emails_after=[\w-]+)"', emails)
        url, pages = older and older.group(1), pages + 1
        if pages > 1:
            assert "Newest emails" in emails
    assert seen == ["row subject 2", "row subject 1", "row subject 0"] and pages >= 2


def _settings_form(staff, client_id):
    html = staff.get(f"/admin/clients/{client_id}/settings").get_data(as_text=True)
    return csrf_from(html)


def test_settings_save_locked_fields_and_overrides_with_an_audit_entry_each(app, owner):
    staff = _staff(app, P.VIEW_CLIENTS, P.EDIT_CLIENTS, email="editor@example.com")
    token = _settings_form(staff, owner.client_id)
    answer = staff.post(
        f"/admin/clients/{owner.client_id}/settings",
        data={
            "csrf_token": token,
            "locked_fields": ["tax_id", "company_name"],
            "suspend_days_after": "10",
            "terminate_days_after": "40",
            "send_sms": "off",
            "auto_suspend": "",
            "send_reminders": "on",
        },
    )
    assert answer.status_code == 302
    with app.app_context():
        client = db.session.get(Client, owner.client_id)
        assert client.locked_fields == ["company_name", "tax_id"]
        assert (client.suspend_days_after, client.terminate_days_after, client.renewal_days_before) == (10, 40, None)
        assert (client.send_sms, client.auto_suspend, client.send_reminders) == (False, None, True)
        entries = db.session.execute(
            sa.select(AuditEntry.action, AuditEntry.old_value, AuditEntry.new_value, AuditEntry.actor)
            .where(AuditEntry.client_id == owner.client_id)
            .order_by(AuditEntry.id)
        ).all()
    actions = {action: (old, new) for action, old, new, _ in entries}
    assert actions == {
        "client.settings.locked_fields": ("none", "company_name, tax_id"),
        "client.settings.suspend_days_after": ("default", "10"),
        "client.settings.terminate_days_after": ("default", "40"),
        "client.settings.send_reminders": ("default", "on"),
        "client.settings.send_sms": ("default", "off"),
    }
    assert {actor for *_, actor in entries} == {entries[0].actor} and entries[0].actor.startswith("staff:")
    page = staff.get(f"/admin/clients/{owner.client_id}/settings").get_data(as_text=True)
    assert re.search(r'<input checked[^>]*value="tax_id"|value="tax_id"[^>]*checked', page)


def test_settings_refuse_termination_before_suspension_beside_the_field(app, owner):
    staff = _staff(app, P.VIEW_CLIENTS, P.EDIT_CLIENTS, email="editor@example.com")
    token = _settings_form(staff, owner.client_id)
    answer = staff.post(
        f"/admin/clients/{owner.client_id}/settings",
        data={"csrf_token": token, "suspend_days_after": "20", "terminate_days_after": "3"},
        headers={"HX-Request": "true", "HX-Target": "client-tabs"},
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    message = html.split('id="terminate_days_after-msg"', 1)[1].split("</div>", 1)[0]
    assert "Termination (3 days) cannot come before suspension (20 days after the due date)." in message
    bad_days = staff.post(
        f"/admin/clients/{owner.client_id}/settings", data={"csrf_token": token, "renewal_days_before": "9999"}
    )
    assert bad_days.status_code == 422 and "from 0 to 365" in bad_days.get_data(as_text=True)
    with app.app_context():
        client = db.session.get(Client, owner.client_id)
        assert (client.suspend_days_after, client.terminate_days_after, client.renewal_days_before) == (
            None,
            None,
            None,
        )
        assert db.session.scalar(sa.select(sa.func.count()).where(AuditEntry.client_id == owner.client_id)) == 0


def test_a_viewer_sees_the_settings_read_only_and_cannot_save_them(app, owner):
    staff = _staff(app)
    page = staff.get(f"/admin/clients/{owner.client_id}/settings").get_data(as_text=True)
    assert '<fieldset class="new-details" disabled>' in page and "Save settings" not in page
    answer = staff.post(
        f"/admin/clients/{owner.client_id}/settings", data={"csrf_token": csrf_from(page), "send_sms": "off"}
    )
    assert answer.status_code == 403
    with app.app_context():
        assert db.session.get(Client, owner.client_id).send_sms is None
