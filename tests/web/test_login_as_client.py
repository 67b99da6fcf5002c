"""Login as client (staff support access): a reason and a time limit, a banner with the way
back, every page view audited, the client's security settings out of reach, the privilege
re-checked on every request, the owner told, and money moved "staff as user"."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEntry
from app.clients.models import Client, User
from app.core.dates import zone
from app.core.types import utcnow
from app.extensions import db
from app.notify.models import EmailMessage
from app.staff import privileges as P
from app.staff.models import Impersonation, Staff, StaffRole
from app.wallet.models import LedgerEntry
from tests.helpers import balance, credit, csrf_from, make_proforma
from tests.support.staff import make_staff, sign_in_staff
from tests.support.wallet import pay_form

REASON = "Ticket #42: the client cannot find their invoice"


@pytest.fixture
def support(app):
    """A signed-in staff member who may view clients and log in as them."""
    staff = make_staff(app, P.VIEW_CLIENTS, P.LOGIN_AS_CLIENT, email="sam@example.com", name="Sam Support")
    browser = app.test_client()
    sign_in_staff(browser, staff)
    return browser, staff


def _start(browser, client_id: int, *, reason: str = REASON, minutes: int = 30):
    page = browser.get(f"/admin/clients/{client_id}/login-as")
    assert page.status_code == 200, page.status_code
    token = csrf_from(page.get_data(as_text=True))
    return browser.post(
        f"/admin/clients/{client_id}/login-as", data={"csrf_token": token, "reason": reason, "minutes": str(minutes)}
    )


def _impersonation(app) -> Impersonation:
    with app.app_context():
        row = db.session.scalars(sa.select(Impersonation)).one()
        db.session.expunge(row)
        return row


def _actions(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        return db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        ).all()


def test_the_client_area_shows_the_banner_with_the_staff_name_and_end_time_and_every_view_is_logged(
    app, owner, support
):
    browser, staff = support
    response = _start(browser, owner.client_id, minutes=30)
    assert response.status_code == 302 and response.location == "/"
    row = _impersonation(app)
    assert row.staff_id == staff.id and row.user_id == owner.user_id and row.reason == REASON
    assert row.ends_at - row.started_at == timedelta(minutes=30) and row.ended_at is None
    with app.app_context():
        client = db.session.get(Client, owner.client_id)
        name, ends = client.display_name, row.ends_at.astimezone(zone(client.timezone)).strftime("%H:%M")
    html = browser.get("/").get_data(as_text=True)
    banner = re.search(r'<div class="support-banner".*?</div>', html, re.S).group(0)
    assert f"You are signed in as <strong>{name}</strong> by <strong>Sam Support</strong>" in banner
    assert f"(support access, ends at {ends})" in banner
    assert 'action="/admin/impersonation/end"' in banner and 'name="csrf_token"' in banner
    assert browser.get("/invoices").status_code == 200
    starts = _actions(app, "impersonation.start")
    assert len(starts) == 1 and starts[0].actor == f"staff:{staff.id}" and REASON in starts[0].new_value
    views = _actions(app, "impersonation.view")
    assert [entry.new_value for entry in views] == ["/", "/invoices"]
    assert all(entry.actor == f"staff:{staff.id}" and entry.client_id == owner.client_id for entry in views)
    # The admin is still the staff member's, in the same browser.
    assert browser.get(f"/admin/clients/{owner.client_id}").status_code == 200


def test_back_to_the_admin_ends_it_and_returns_to_the_profile(app, owner, support):
    browser, staff = support
    _start(browser, owner.client_id)
    token = csrf_from(browser.get("/").get_data(as_text=True))
    response = browser.post("/admin/impersonation/end", data={"csrf_token": token})
    assert response.status_code == 302 and response.location == f"/admin/clients/{owner.client_id}"
    row = _impersonation(app)
    assert row.ended_at is not None and row.end_reason == "back to the admin"
    ends = _actions(app, "impersonation.end")
    assert len(ends) == 1 and ends[0].actor == f"staff:{staff.id}"
    # The browser is staff again: the client area sends it home to the admin.
    assert browser.get("/").location == "/admin/"
    assert browser.post("/admin/impersonation/end", data={"csrf_token": token}).location == "/admin/"
    assert len(_actions(app, "impersonation.end")) == 1


def test_back_to_the_admin_needs_the_csrf_token(app, owner, support):
    browser, _ = support
    _start(browser, owner.client_id)
    assert browser.post("/admin/impersonation/end").status_code == 400
    assert _impersonation(app).ended_at is None


def test_it_ends_by_itself_after_its_time(app, owner, support):
    browser, _ = support
    _start(browser, owner.client_id, minutes=15)
    assert browser.get("/").status_code == 200
    with app.app_context():
        db.session.execute(sa.update(Impersonation).values(ends_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    response = browser.get("/invoices")
    assert response.status_code == 302 and response.location == f"/admin/clients/{owner.client_id}"
    row = _impersonation(app)
    assert row.ended_at is not None and row.end_reason == "time is up"
    assert browser.get("/").location == "/admin/"  # no longer the client
    assert [entry.new_value for entry in _actions(app, "impersonation.view")] == ["/"]


def test_it_stops_at_once_when_the_staff_member_loses_the_privilege(app, owner, support):
    browser, staff = support
    _start(browser, owner.client_id)
    assert browser.get("/").status_code == 200
    with app.app_context():
        role = db.session.get(Staff, staff.id).roles[0]
        db.session.get(StaffRole, role.id).privileges = [P.VIEW_CLIENTS]
        db.session.commit()
    response = browser.get("/")
    assert response.status_code == 302 and response.location == f"/admin/clients/{owner.client_id}"
    assert _impersonation(app).end_reason == "privilege removed"
    assert browser.get("/wallet").location == "/admin/"


def test_a_deactivated_staff_member_is_out_of_the_client_area_too(app, owner, support):
    browser, staff = support
    _start(browser, owner.client_id)
    with app.app_context():
        db.session.get(Staff, staff.id).active = False
        db.session.commit()
    response = browser.get("/")
    assert response.status_code == 302 and response.location.startswith("/admin/login")
    assert _impersonation(app).ended_at is not None
    assert browser.get("/").location.startswith("/login")


SECURITY_PAGES = ["/account/security", "/account/security/2fa", "/trusted-users", "/trusted-users/new", "/login"]


@pytest.mark.parametrize("path", SECURITY_PAGES)
def test_the_clients_security_settings_are_refused_with_a_page_saying_why(app, owner, support, path):
    browser, _ = support
    _start(browser, owner.client_id)
    response = browser.get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == 403, path
    assert "support access cannot open or change" in html and "Back to the admin" in html
    assert _actions(app, "impersonation.refused")[-1].new_value == f"GET {path}"


def test_a_password_ip_list_or_email_change_posted_anyway_changes_nothing(app, owner, support):
    browser, _ = support
    _start(browser, owner.client_id)
    token = csrf_from(browser.get("/").get_data(as_text=True))
    with app.app_context():
        before = db.session.get(User, owner.user_id)
        stamp, password_hash, allowlist = before.security_stamp, before.password_hash, before.ip_allowlist
    for path, data in [
        ("/account/security/password", {"current_password": owner.password, "new_password": "a-new-password-9"}),
        ("/account/security/allowlist", {"allowlist": "10.0.0.0/8"}),
        ("/account/security/email", {"new_email": "thief@example.com", "password": owner.password}),
    ]:
        assert browser.post(path, data={"csrf_token": token, **data}).status_code == 403, path
    with app.app_context():
        user = db.session.get(User, owner.user_id)
        assert (user.security_stamp, user.password_hash, user.ip_allowlist) == (stamp, password_hash, allowlist)
    assert "/account/security" not in browser.get("/").get_data(as_text=True).split('class="sidenav"', 1)[1]


def test_a_reason_is_required(app, owner, support):
    browser, _ = support
    response = _start(browser, owner.client_id, reason="   ")
    assert response.status_code == 422
    assert "Say why you need to sign in as this client." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Impersonation)) == 0
    assert browser.get("/").location == "/admin/"
    assert _actions(app, "impersonation.start") == []


def test_a_duration_over_the_maximum_is_refused(app, owner, support):
    app.config["IMPERSONATION_MAX_MINUTES"] = 30
    browser, _ = support
    response = _start(browser, owner.client_id, minutes=60)
    assert response.status_code == 422
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Impersonation)) == 0


def test_the_owner_gets_one_email_when_it_starts(app, owner, support):
    browser, _ = support
    _start(browser, owner.client_id)
    browser.get("/")
    browser.get("/invoices")
    with app.app_context():
        mails = db.session.scalars(sa.select(EmailMessage).where(EmailMessage.template == "support_access")).all()
        assert len(mails) == 1
        assert mails[0].recipients == [owner.email] and "Sam Support" in mails[0].body_text
        assert REASON.replace("#", "#") in mails[0].body_text


def test_no_email_when_the_setting_is_off(app, owner, support):
    app.config["IMPERSONATION_NOTIFY_OWNER"] = False
    browser, _ = support
    _start(browser, owner.client_id)
    with app.app_context():
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(EmailMessage).where(EmailMessage.template == "support_access")
            )
            == 0
        )


def test_money_moved_during_it_names_the_staff_member_on_behalf_of_the_user(app, owner, support):
    browser, staff = support
    number = make_proforma(app, owner.client_id, 1000)
    credit(app, owner.client_id, 5000)
    _start(browser, owner.client_id)
    response = pay_form(browser, number, use_balance="y")
    assert response.status_code == 302
    assert balance(app, owner.client_id) == 5000 - 1210
    with app.app_context():
        entry = db.session.scalars(sa.select(LedgerEntry).order_by(LedgerEntry.id.desc())).first()
        assert entry.amount_minor == -1210 and entry.actor == f"staff:{staff.id} as user:{owner.user_id}"


def test_signing_out_of_the_client_area_goes_back_to_the_admin(app, owner, support):
    browser, _ = support
    _start(browser, owner.client_id)
    token = csrf_from(browser.get("/").get_data(as_text=True))
    response = browser.post("/logout", data={"csrf_token": token})
    assert response.location == f"/admin/clients/{owner.client_id}"
    assert _impersonation(app).end_reason == "signed out"
    assert browser.get("/admin/").status_code == 200  # still signed in to the admin


def test_staff_without_the_privilege_get_403_and_no_button(app, owner):
    staff = make_staff(app, P.VIEW_CLIENTS, email="viewer@example.com")
    browser = app.test_client()
    sign_in_staff(browser, staff)
    assert "Log in as client" not in browser.get(f"/admin/clients/{owner.client_id}").get_data(as_text=True)
    assert browser.get(f"/admin/clients/{owner.client_id}/login-as").status_code == 403


def test_a_client_user_never_becomes_staff_nor_anyone_else(app, owner, support, other):
    browser, _ = support
    _start(browser, owner.client_id)
    row = _impersonation(app)
    client_browser = app.test_client()
    from tests.helpers import login

    login(client_browser, other.email, other.password)
    with client_browser.session_transaction() as session:
        session["impersonation"] = row.id  # a forged session (a signed cookie prevents it): still nobody else
    page = client_browser.get("/")
    assert page.status_code == 200 and "support-banner" not in page.get_data(as_text=True)
    assert client_browser.get("/admin/").location.startswith("/admin/login")
    assert _impersonation(app).ended_at is None  # someone else's access is not touched
