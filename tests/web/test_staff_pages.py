"""Managing staff: the list, invitations (one email, a link that works once and then asks
for a second factor), editing and deactivating with the last-manager rule, roles, and
each staff member's own account. Every change is audited."""

from __future__ import annotations

import re
import time

import itsdangerous
import pyotp
import pytest
import sqlalchemy as sa

from app.audit.models import AuditEntry
from app.core.actors import Actor
from app.core.signing import sign, unsign
from app.core.totp import hash_recovery_code
from app.extensions import db
from app.notify.models import EmailMessage
from app.staff import privileges as P
from app.staff.models import Staff, StaffRecoveryCode, StaffRole
from app.staff.services import LastStaffManager, deactivate_staff
from tests.helpers import count, count_statements, csrf_from, wrong_totp
from tests.support.staff import STAFF_TOTP_SECRET, StaffAccount, forget_last_code, make_staff, sign_in_staff

XSS = "<script>alert(1)</script>"
NEW_PASSWORD = "a-brand-new-password"


def _manager(app, email="boss@example.com", **kwargs):
    """A signed-in browser of a staff member holding MANAGE_STAFF, and the member."""
    member = make_staff(app, P.MANAGE_STAFF, P.VIEW_CLIENTS, email=email, name="Morgan Manager", **kwargs)
    browser = app.test_client()
    sign_in_staff(browser, member)
    return browser, member


def _post(browser, url, data=None, *, token_from=None):
    token = csrf_from(browser.get(token_from or url).get_data(as_text=True))
    return browser.post(url, data={"csrf_token": token, **(data or {})})


def _role(app, name, *privileges) -> int:
    with app.app_context():
        role = StaffRole(name=name, privileges=list(privileges))
        db.session.add(role)
        db.session.commit()
        return role.id


def _audit(app, action):
    with app.app_context():
        return [
            (e.actor, e.target, e.old_value, e.new_value, e.ip)
            for e in db.session.scalars(
                sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        ]


def _invite(browser, role_id, email="new@example.com", name="Nora New"):
    return _post(browser, "/admin/staff/invite", {"name": name, "email": email, "roles": [str(role_id)]})


def _invite_link(app, email="new@example.com") -> str:
    with app.app_context():
        message = db.session.scalars(
            sa.select(EmailMessage).where(EmailMessage.template == "staff_invite").order_by(EmailMessage.id.desc())
        ).first()
        assert message.recipients == [email]
        return re.search(r"https?://[^/\s]+(/admin/invite/\S+)", message.body_text).group(1)


def _staff_row(app, email) -> Staff:
    with app.app_context():
        member = db.session.scalar(sa.select(Staff).where(Staff.email == email))
        db.session.expunge(member)
        return member


# --- the list -----------------------------------------------------------------------------------


def test_the_list_shows_each_member_with_roles_status_2fa_and_last_sign_in(app):
    browser, manager = _manager(app)
    make_staff(app, P.VIEW_CLIENTS, email="plain@example.com", name="Pat Plain", with_2fa=False)
    support = _role(app, "Support desk", P.VIEW_CLIENTS)
    _invite(browser, support, email="pending@example.com", name="Penny Pending")
    page = browser.get("/admin/staff").get_data(as_text=True)
    boss = page.split(f'id="staff-{manager.id}"', 1)[1].split("</tr>", 1)[0]
    assert "Morgan Manager" in boss and "boss@example.com" in boss and "role of boss@example.com" in boss
    assert "2FA on" in boss and "Active" in boss and "127.0.0.1" in boss and "(you)" in boss
    plain = page.split("Pat Plain", 1)[1].split("</tr>", 1)[0]
    assert "2FA off" in plain and "Never" in plain
    pending = page.split("Penny Pending", 1)[1].split("</tr>", 1)[0]
    assert "Support desk" in pending and ">Invited<" in pending and "not accepted yet" in pending
    assert "Resend invite" in pending
    assert 'href="/admin/staff/invite"' in page


# --- invitations --------------------------------------------------------------------------------


def test_an_invite_emails_one_link_that_works_once_then_enrolment_comes_before_the_admin(app):
    browser, manager = _manager(app)
    role = _role(app, "Billing desk", P.VIEW_CLIENTS, P.MANAGE_BILLING)
    response = _invite(browser, role)
    assert response.status_code == 302 and response.location == "/admin/staff"
    assert "An invitation was sent to new@example.com" in browser.get("/admin/staff").get_data(as_text=True)
    assert count(app, EmailMessage, EmailMessage.template == "staff_invite") == 1
    invited = _staff_row(app, "new@example.com")
    assert invited.password_hash == "" and invited.invited_at is not None
    assert _audit(app, "staff.invite") == [
        (f"staff:{manager.id}", f"staff:{invited.id}", None, "new@example.com (Billing desk)", "127.0.0.1")
    ]
    link = _invite_link(app)

    newcomer = app.test_client()
    page = newcomer.get(link).get_data(as_text=True)
    assert "Welcome, Nora New" in page and "new@example.com" in page
    short = _post(newcomer, link, {"password": "short", "confirm": "short"})
    assert short.status_code == 422 and "Use at least 10 characters." in short.get_data(as_text=True)
    response = _post(newcomer, link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.location == "/admin/login/enrol"
    assert newcomer.get("/admin/").location.startswith("/admin/login")  # not in before the second factor
    enrol = newcomer.get("/admin/login/enrol").get_data(as_text=True)
    assert "Set up two-factor sign-in" in enrol and "Your password is set." in enrol
    with newcomer.session_transaction() as session:
        session_secret = session["staff_pending"]["secret"]
    done = _post(newcomer, "/admin/login/enrol", {"code": pyotp.TOTP(session_secret).now()}, token_from="/admin/login")
    assert "Save your recovery codes" in done.get_data(as_text=True)
    assert "Nora New" in newcomer.get("/admin/").get_data(as_text=True)
    member = _staff_row(app, "new@example.com")
    assert member.invited_at is None and member.has_2fa and member.password_hash

    # The link was used: it no longer works, in any browser, and changes nothing.
    again = app.test_client().get(link)
    assert again.status_code == 400 and "not valid or was already used" in again.get_data(as_text=True)
    assert "not accepted yet" not in browser.get("/admin/staff").get_data(as_text=True)


def test_while_2fa_is_not_required_an_accepted_invite_signs_in_at_once(app):
    app.config["STAFF_2FA_REQUIRED"] = False
    browser, _ = _manager(app)
    _invite(browser, _role(app, "Desk", P.VIEW_CLIENTS))
    newcomer = app.test_client()
    link = _invite_link(app)
    assert "two-factor" not in newcomer.get(link).get_data(as_text=True)
    response = _post(newcomer, link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.location == "/admin/"
    page = newcomer.get("/admin/").get_data(as_text=True)
    assert "Nora New" in page and "Your password is set." in page


def test_an_expired_link_and_a_link_from_before_a_resend_are_refused(app, monkeypatch):
    browser, _ = _manager(app)
    role = _role(app, "Desk", P.VIEW_CLIENTS)
    _invite(browser, role)
    first = _invite_link(app)
    invited = _staff_row(app, "new@example.com")
    with app.app_context():
        payload = unsign(first.rsplit("/", 1)[1], salt="staff-invite", max_age=60)
        eight_days_ago = int(time.time()) - 8 * 24 * 3600
        monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: eight_days_ago)
        expired = sign(payload, salt="staff-invite")
        monkeypatch.undo()
    response = app.test_client().get(f"/admin/invite/{expired}")
    assert response.status_code == 410 and "This invitation has expired." in response.get_data(as_text=True)
    posted = _post(
        app.test_client(),
        f"/admin/invite/{expired}",
        {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        token_from="/admin/login",
    )
    assert posted.status_code == 410

    resend = _post(browser, f"/admin/staff/{invited.id}/resend-invite", token_from="/admin/staff")
    assert resend.status_code == 302
    second = _invite_link(app)
    assert second != first and count(app, EmailMessage, EmailMessage.template == "staff_invite") == 2
    old = app.test_client().get(first)
    assert old.status_code == 400 and "ask an administrator" in old.get_data(as_text=True).lower()
    assert app.test_client().get(second).status_code == 200
    forged = app.test_client().get(second[:-4] + ("AAAA" if not second.endswith("AAAA") else "BBBB"))
    assert forged.status_code == 400
    assert _staff_row(app, "new@example.com").password_hash == ""


def test_a_duplicate_email_is_refused_beside_the_field_and_nothing_changes(app):
    browser, _ = _manager(app)
    role = _role(app, "Desk", P.VIEW_CLIENTS)
    response = _invite(browser, role, email="BOSS@example.com")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    email_field = page.split('id="email-msg"', 1)[1].split("</div>", 1)[0]
    assert "An account with this email already exists." in email_field
    no_role = _post(browser, "/admin/staff/invite", {"name": "X", "email": "x@example.com"})
    assert no_role.status_code == 422
    assert "Choose at least one role." in no_role.get_data(as_text=True).split('id="roles-msg"', 1)[1]
    assert count(app, Staff) == 1 and count(app, EmailMessage) == 0 and _audit(app, "staff.invite") == []


# --- editing ------------------------------------------------------------------------------------


def test_editing_roles_is_audited_old_to_new(app):
    browser, manager = _manager(app)
    clerk = make_staff(app, P.VIEW_CLIENTS, email="clerk@example.com")
    billing = _role(app, "Billing", P.MANAGE_BILLING)
    response = _post(browser, f"/admin/staff/{clerk.id}", {"name": "Casey Renamed", "roles": [str(billing)]})
    assert response.status_code == 302
    page = browser.get(response.location).get_data(as_text=True)
    assert "Casey Renamed" in page
    assert _audit(app, "staff.update") == [
        (f"staff:{manager.id}", f"staff:{clerk.id}", "roles: role of clerk@example.com", "roles: Billing", "127.0.0.1"),
        (f"staff:{manager.id}", f"staff:{clerk.id}", "name: Casey Clerk", "name: Casey Renamed", "127.0.0.1"),
    ]
    with app.app_context():
        assert [r.name for r in db.session.get(Staff, clerk.id).roles] == ["Billing"]


def test_the_last_manager_cannot_lose_the_privilege_or_be_deactivated(app):
    browser, manager = _manager(app)
    with app.app_context():
        boss_role = db.session.get(Staff, manager.id).roles[0].id
    reader = _role(app, "Reader", P.VIEW_CLIENTS)
    # Taking MANAGE_STAFF from oneself, the last holder, by the staff edit: refused beside the roles.
    response = _post(browser, f"/admin/staff/{manager.id}", {"name": "Morgan Manager", "roles": [str(reader)]})
    assert response.status_code == 422
    assert (
        "leave no active staff member who may manage staff"
        in response.get_data(as_text=True).split('id="roles-msg"', 1)[1].split("</div>", 1)[0]
    )
    # ... and by editing the role.
    response = _post(
        browser, f"/admin/roles/{boss_role}", {"name": "role of boss@example.com", "privileges": [P.VIEW_CLIENTS]}
    )
    assert response.status_code == 422
    privileges_msg = response.get_data(as_text=True).split('id="privileges-msg"', 1)[1].split("</div>", 1)[0]
    assert "leave no active staff member who may manage staff" in privileges_msg
    # Deactivating oneself is refused, whoever else manages staff.
    response = _post(browser, f"/admin/staff/{manager.id}/deactivate", token_from=f"/admin/staff/{manager.id}")
    assert response.status_code == 422 and "You cannot deactivate yourself." in response.get_data(as_text=True)
    with app.app_context():
        member = db.session.get(Staff, manager.id)
        assert member.active and member.has_privilege(P.MANAGE_STAFF)
        assert set(db.session.get(StaffRole, boss_role).privileges) == {P.VIEW_CLIENTS, P.MANAGE_STAFF}
    assert _audit(app, "staff.update") == [] and _audit(app, "role.update") == []

    # A superuser counts as holding every privilege: with one, the role edit goes through.
    superuser = make_staff(app, email="root@example.com", name="Root", superuser=True)
    response = _post(browser, f"/admin/roles/{boss_role}", {"name": "Ex-bosses", "privileges": [P.VIEW_CLIENTS]})
    assert response.status_code == 302
    assert [e[2:4] for e in _audit(app, "role.update")] == [
        (f"privileges: {P.VIEW_CLIENTS}, {P.MANAGE_STAFF}", f"privileges: {P.VIEW_CLIENTS}"),
        ("name: role of boss@example.com", "name: Ex-bosses"),
    ]
    # Now the superuser is the last manager: nobody may deactivate them (the rule is the service's).
    with app.app_context():
        last = db.session.get(Staff, superuser.id)
        with pytest.raises(LastStaffManager):
            deactivate_staff(last, actor=Actor.system())
        db.session.rollback()
        assert db.session.get(Staff, superuser.id).active


def test_an_invited_manager_who_has_not_chosen_a_password_does_not_count(app):
    browser, manager = _manager(app)
    managers = _role(app, "Managers", P.MANAGE_STAFF)
    reader = _role(app, "Reader", P.VIEW_CLIENTS)
    _invite(browser, managers, email="future@example.com")
    response = _post(browser, f"/admin/staff/{manager.id}", {"name": "Morgan Manager", "roles": [str(reader)]})
    assert response.status_code == 422
    # Another active manager: now the first may give the privilege up.
    make_staff(app, P.MANAGE_STAFF, email="second@example.com")
    response = _post(browser, f"/admin/staff/{manager.id}", {"name": "Morgan Manager", "roles": [str(reader)]})
    assert response.location == "/admin/account"  # not the edit page they may no longer open
    assert browser.get("/admin/staff").status_code == 403


def test_deactivation_ends_the_session_and_reactivation_lets_them_sign_in_again(app):
    browser, manager = _manager(app)
    clerk = make_staff(app, P.VIEW_CLIENTS, email="clerk@example.com")
    clerk_browser = app.test_client()
    sign_in_staff(clerk_browser, clerk)
    assert clerk_browser.get("/admin/clients").status_code == 200
    response = _post(browser, f"/admin/staff/{clerk.id}/deactivate", token_from=f"/admin/staff/{clerk.id}")
    assert response.status_code == 302
    assert "Deactivated" in browser.get(f"/admin/staff/{clerk.id}").get_data(as_text=True)
    assert clerk_browser.get("/admin/clients").location.startswith("/admin/login")
    forget_last_code(app, clerk)
    assert sign_in_staff(app.test_client(), clerk).status_code == 422  # a deactivated member cannot sign in
    assert _audit(app, "staff.deactivate") == [
        (f"staff:{manager.id}", f"staff:{clerk.id}", "active", "deactivated", "127.0.0.1")
    ]
    _post(browser, f"/admin/staff/{clerk.id}/reactivate", token_from=f"/admin/staff/{clerk.id}")
    assert [e[2:4] for e in _audit(app, "staff.reactivate")] == [("deactivated", "active")]
    forget_last_code(app, clerk)
    again = app.test_client()
    sign_in_staff(again, clerk)
    assert again.get("/admin/clients").status_code == 200


def test_reset_2fa_clears_the_factor_ends_sessions_and_forces_enrolment(app):
    browser, manager = _manager(app)
    clerk = make_staff(app, P.VIEW_CLIENTS, email="clerk@example.com")
    clerk_browser = app.test_client()
    sign_in_staff(clerk_browser, clerk)
    with app.app_context():
        db.session.add(StaffRecoveryCode(staff_id=clerk.id, code_hash=hash_recovery_code("abcd-efgh")))
        db.session.commit()
    response = _post(browser, f"/admin/staff/{clerk.id}/reset-2fa", token_from=f"/admin/staff/{clerk.id}")
    assert response.status_code == 302
    assert clerk_browser.get("/admin/").location.startswith("/admin/login")
    with app.app_context():
        member = db.session.get(Staff, clerk.id)
        assert not member.has_2fa and member.totp_secret is None
    assert count(app, StaffRecoveryCode, StaffRecoveryCode.staff_id == clerk.id) == 0
    fresh = app.test_client()
    token = csrf_from(fresh.get("/admin/login").get_data(as_text=True))
    step = fresh.post("/admin/login", data={"email": clerk.email, "password": clerk.password, "csrf_token": token})
    assert step.location.startswith("/admin/login/enrol")
    assert [e[2:4] for e in _audit(app, "staff.reset_2fa")] == [("on", "off, enrolment at next sign-in")]
    own = _post(browser, f"/admin/staff/{manager.id}/reset-2fa", token_from=f"/admin/staff/{manager.id}")
    assert own.status_code == 422 and "You cannot reset your own two-factor sign-in here." in own.get_data(as_text=True)


def test_a_staff_name_is_escaped_on_the_list_and_edit_pages(app):
    browser, _ = _manager(app)
    member = make_staff(app, P.VIEW_CLIENTS, email="xss@example.com", name=XSS)
    _role(app, XSS + " role", P.VIEW_CLIENTS)
    for path in ("/admin/staff", f"/admin/staff/{member.id}", "/admin/roles"):
        page = browser.get(path).get_data(as_text=True)
        assert XSS not in page, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path


# --- roles --------------------------------------------------------------------------------------


def test_roles_list_counts_members_and_a_new_role_needs_a_unique_name(app):
    browser, _ = _manager(app)
    page = browser.get("/admin/roles").get_data(as_text=True)
    row = page.split("role of boss@example.com", 1)[1].split("</tr>", 1)[0]
    assert "Manage staff" in row and "View clients" in row and '<td class="num">1</td>' in row
    form = browser.get("/admin/roles/new").get_data(as_text=True)
    for label in P.PRIVILEGES.values():
        assert str(label) in form
    taken = _post(browser, "/admin/roles/new", {"name": "ROLE OF boss@example.com", "privileges": [P.VIEW_CLIENTS]})
    assert taken.status_code == 422
    assert "A role with this name already exists." in taken.get_data(as_text=True).split('id="name-msg"', 1)[1]
    made = _post(browser, "/admin/roles/new", {"name": "Auditor", "privileges": [P.VIEW_CLIENTS, P.MANAGE_BILLING]})
    assert made.location == "/admin/roles"
    row = browser.get("/admin/roles").get_data(as_text=True).split("Auditor</a>", 1)[1].split("</tr>", 1)[0]
    assert "Manage billing and credit" in row and '<td class="num">0</td>' in row
    assert [e[3] for e in _audit(app, "role.create")] == [f"Auditor: {P.VIEW_CLIENTS}, {P.MANAGE_BILLING}"]


# --- access -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/admin/staff",
        "/admin/staff/invite",
        "/admin/staff/{id}",
        "/admin/roles",
        "/admin/roles/new",
        "/admin/roles/{role}",
    ],
)
def test_a_staff_member_without_manage_staff_gets_403_on_each_page(app, path):
    clerk = make_staff(app, *[p for p in P.PRIVILEGES if p != P.MANAGE_STAFF], email="almost@example.com")
    role = _role(app, "Some role", P.VIEW_CLIENTS)
    browser = app.test_client()
    sign_in_staff(browser, clerk)
    response = browser.get(path.format(id=clerk.id, role=role))
    assert response.status_code == 403
    assert "\u201cManage staff\u201d" in response.get_data(as_text=True)
    nav = browser.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/staff"' not in nav and 'href="/admin/roles"' not in nav
    assert 'href="/admin/account"' in nav


# --- one's own account --------------------------------------------------------------------------


def test_own_account_shows_roles_privileges_2fa_and_sign_ins(app):
    member = make_staff(app, P.VIEW_CLIENTS, email="me@example.com", name="Mia Me")
    browser = app.test_client()
    sign_in_staff(browser, member)
    page = browser.get("/admin/account").get_data(as_text=True)
    assert "Mia Me" in page and "me@example.com" in page and "role of me@example.com" in page
    assert "View clients" in page and "Manage staff" not in page and "2FA on" in page
    history = page.split("Your recent sign-ins", 1)[1]
    assert "Signed in" in history and "127.0.0.1" in history and "totp" in history


def test_changing_the_own_password_needs_the_current_one_and_keeps_this_session(app):
    member = make_staff(app, P.VIEW_CLIENTS, email="me@example.com")
    browser, other = app.test_client(), app.test_client()
    sign_in_staff(browser, member)
    forget_last_code(app, member)
    sign_in_staff(other, member)
    wrong = _post(
        browser,
        "/admin/account/password",
        {"current_password": "not-it", "new_password": NEW_PASSWORD},
        token_from="/admin/account",
    )
    assert wrong.status_code == 422
    assert "Your current password is not correct." in wrong.get_data(as_text=True)
    short = _post(
        browser,
        "/admin/account/password",
        {"current_password": member.password, "new_password": "short"},
        token_from="/admin/account",
    )
    assert "Use at least 10 characters." in short.get_data(as_text=True).split('id="new_password-msg"', 1)[1]
    response = _post(
        browser,
        "/admin/account/password",
        {"current_password": member.password, "new_password": NEW_PASSWORD},
        token_from="/admin/account",
    )
    assert response.location == "/admin/account"
    assert "Your password was changed." in browser.get("/admin/account").get_data(as_text=True)
    assert other.get("/admin/account").location.startswith("/admin/login")  # the other session ended
    forget_last_code(app, member)
    renewed = StaffAccount(member.id, member.email, password=NEW_PASSWORD, totp_secret=STAFF_TOTP_SECRET)
    third = app.test_client()
    sign_in_staff(third, renewed)
    assert third.get("/admin/account").status_code == 200
    assert [e[3] for e in _audit(app, "staff.password")] == ["changed"]


def test_new_recovery_codes_need_a_totp_code_and_void_the_old_ones(app):
    member = make_staff(app, email="me@example.com")
    with app.app_context():
        db.session.add(StaffRecoveryCode(staff_id=member.id, code_hash=hash_recovery_code("old1-code")))
        db.session.commit()
    browser = app.test_client()
    sign_in_staff(browser, member)
    wrong = _post(
        browser, "/admin/account/recovery-codes", {"code": wrong_totp(member.totp_secret)}, token_from="/admin/account"
    )
    assert wrong.status_code == 422 and "That code is not right." in wrong.get_data(as_text=True)
    recovery = _post(browser, "/admin/account/recovery-codes", {"code": "old1-code"}, token_from="/admin/account")
    assert recovery.status_code == 422  # a recovery code does not make new ones
    forget_last_code(app, member)
    response = _post(
        browser,
        "/admin/account/recovery-codes",
        {"code": pyotp.TOTP(STAFF_TOTP_SECRET).now()},
        token_from="/admin/account",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Your new recovery codes" in page
    codes = re.findall(r'<ul class="recovery-codes">(.*?)</ul>', page, re.S)[0]
    new_codes = re.findall(r"<code>([^<]+)</code>", codes)
    assert len(new_codes) == 10
    with app.app_context():
        hashes = set(
            db.session.scalars(sa.select(StaffRecoveryCode.code_hash).where(StaffRecoveryCode.staff_id == member.id))
        )
    assert hash_recovery_code("old1-code") not in hashes and hash_recovery_code(new_codes[0]) in hashes
    assert "Your new recovery codes" not in browser.get("/admin/account").get_data(as_text=True)  # shown once
    assert [e[3] for e in _audit(app, "staff.recovery_codes")] == ["10 new codes"]


def test_a_role_is_deleted_only_while_nobody_holds_it(app):
    browser, _ = _manager(app)
    held = _role(app, "Held", P.VIEW_CLIENTS)
    make_staff(app, email="holder@example.com")
    with app.app_context():
        db.session.scalar(sa.select(Staff).where(Staff.email == "holder@example.com")).roles = [
            db.session.get(StaffRole, held)
        ]
        db.session.commit()
    refused = _post(browser, f"/admin/roles/{held}/delete", token_from=f"/admin/roles/{held}")
    assert refused.status_code == 422
    assert "1 staff member holds this role" in refused.get_data(as_text=True)
    assert count(app, StaffRole, StaffRole.id == held) == 1
    unused = _role(app, "Unused", P.VIEW_CLIENTS)
    response = _post(browser, f"/admin/roles/{unused}/delete", token_from=f"/admin/roles/{unused}")
    assert response.location == "/admin/roles"
    assert count(app, StaffRole, StaffRole.id == unused) == 0
    assert [e[2] for e in _audit(app, "role.delete")] == [f"Unused: {P.VIEW_CLIENTS}"]


def test_the_staff_and_roles_lists_cost_the_same_queries_for_more_staff(app):
    browser, _ = _manager(app)
    make_staff(app, P.VIEW_CLIENTS, email="one@example.com")
    few = (
        count_statements(app, lambda: browser.get("/admin/staff")),
        count_statements(app, lambda: browser.get("/admin/roles")),
    )
    for n in range(5):
        make_staff(app, P.VIEW_CLIENTS, P.MANAGE_BILLING, email=f"more{n}@example.com")
    many = (
        count_statements(app, lambda: browser.get("/admin/staff")),
        count_statements(app, lambda: browser.get("/admin/roles")),
    )
    assert many == few
