"""Staff sign-in: the password step, then a TOTP or recovery code; the sign-in log."""

from __future__ import annotations

import time

import pyotp
import sqlalchemy as sa

from app.audit.models import AuditEntry
from app.core.totp import hash_recovery_code
from app.extensions import db
from app.staff import privileges as P
from app.staff.models import Staff, StaffLoginEvent, StaffRecoveryCode
from tests.helpers import csrf_token, wrong_totp
from tests.support.staff import forget_last_code, make_staff, sign_in_staff


def password_step(client, staff, next=None):
    url = "/admin/login" + (f"?next={next}" if next else "")
    token = csrf_token(client, url)
    return client.post(url, data={"email": staff.email, "password": staff.password, "csrf_token": token})


def code_step(client, code, next=None):
    url = "/admin/login/code" + (f"?next={next}" if next else "")
    token = csrf_token(client, "/admin/login")  # the code page itself sends a lapsed step back
    return client.post(url, data={"code": code, "csrf_token": token})


def events(app):
    with app.app_context():
        return [
            (e.staff_id, e.succeeded, e.reason)
            for e in db.session.scalars(sa.select(StaffLoginEvent).order_by(StaffLoginEvent.id))
        ]


def test_the_password_alone_does_not_sign_in_and_the_code_does(app, client):
    staff = make_staff(app, P.VIEW_CLIENTS)
    response = password_step(client, staff, next="/admin/clients")
    assert response.location == "/admin/login/code?next=/admin/clients"
    page = client.get(response.location).get_data(as_text=True)
    assert "Enter your code" in page
    response = code_step(client, pyotp.TOTP(staff.totp_secret).now(), next="/admin/clients")
    assert response.location == "/admin/clients"
    assert "Casey Clerk" in client.get("/admin/").get_data(as_text=True)
    assert events(app) == [(staff.id, True, "totp")]
    with app.app_context():
        assert db.session.get(Staff, staff.id).last_login_at is not None


def test_staff_2fa_cannot_be_skipped_direct_url_after_the_password_step(app, client):
    staff = make_staff(app, P.VIEW_CLIENTS, P.APPROVE_PAYMENTS)
    password_step(client, staff)
    for path in ("/admin/", "/admin/bank-transfers"):
        response = client.get(path)
        assert response.status_code == 302 and response.location.startswith("/admin/login?next="), path


def test_a_wrong_code_is_refused_and_logged(app, client):
    staff = make_staff(app, P.VIEW_CLIENTS)
    password_step(client, staff)
    response = code_step(client, wrong_totp(staff.totp_secret))
    assert response.status_code == 422
    assert "That code is not right." in response.get_data(as_text=True)
    assert client.get("/admin/").location.startswith("/admin/login")
    assert events(app) == [(staff.id, False, "wrong_code")]


def test_a_wrong_password_is_logged_with_the_staff_member(app, client):
    staff = make_staff(app, P.VIEW_CLIENTS)
    token = csrf_token(client, "/admin/login")
    client.post("/admin/login", data={"email": staff.email, "password": "nope-nope-1", "csrf_token": token})
    assert events(app) == [(staff.id, False, "wrong_password")]


def test_a_totp_code_is_accepted_once(app, client):
    staff = make_staff(app, P.VIEW_CLIENTS)
    code = pyotp.TOTP(staff.totp_secret).now()
    password_step(client, staff)
    assert code_step(client, code).location == "/admin/"
    other = app.test_client()
    password_step(other, staff)
    response = code_step(other, code)
    assert response.status_code == 422
    assert "This code was already used." in response.get_data(as_text=True)
    assert other.get("/admin/").location.startswith("/admin/login")


def test_a_recovery_code_works_once(app, client):
    staff = make_staff(app, P.VIEW_CLIENTS)
    with app.app_context():
        db.session.add(StaffRecoveryCode(staff_id=staff.id, code_hash=hash_recovery_code("abcde-12345")))
        db.session.commit()
    password_step(client, staff)
    assert code_step(client, "ABCDE 12345").location == "/admin/"
    other = app.test_client()
    password_step(other, staff)
    assert code_step(other, "abcde-12345").status_code == 422
    assert [e[1:] for e in events(app)] == [(True, "recovery"), (False, "wrong_code")]


def test_the_pending_step_expires(app, client):
    staff = make_staff(app, P.VIEW_CLIENTS)
    password_step(client, staff)
    with client.session_transaction() as session:
        session["staff_pending"] = {**session["staff_pending"], "at": int(time.time()) - 6 * 60}
    response = code_step(client, pyotp.TOTP(staff.totp_secret).now())
    assert response.status_code == 302 and response.location.startswith("/admin/login")
    assert client.get("/admin/").location.startswith("/admin/login")
    assert events(app) == [(staff.id, False, "expired_step")]


def test_a_new_password_ends_the_pending_step(app, client):
    staff = make_staff(app, P.VIEW_CLIENTS)
    password_step(client, staff)
    with app.app_context():
        db.session.get(Staff, staff.id).security_stamp = "rotated"
        db.session.commit()
    assert code_step(client, pyotp.TOTP(staff.totp_secret).now()).location.startswith("/admin/login")
    assert client.get("/admin/").location.startswith("/admin/login")


def test_staff_without_2fa_sign_in_with_the_password_while_it_is_not_required(app, client):
    app.config["STAFF_2FA_REQUIRED"] = False  # development
    staff = make_staff(app, P.VIEW_CLIENTS, with_2fa=False)
    assert password_step(client, staff).location == "/admin/"
    assert events(app) == [(staff.id, True, "password")]


def test_sign_in_staff_can_sign_in_twice(app, client):
    staff = make_staff(app, P.VIEW_CLIENTS)
    assert sign_in_staff(client, staff).location == "/admin/"
    other = app.test_client()
    forget_last_code(app, staff)
    assert sign_in_staff(other, staff).location == "/admin/"


def test_enrolment_is_forced_at_the_first_sign_in_when_2fa_is_required(app, client):
    app.config["STAFF_2FA_REQUIRED"] = True
    staff = make_staff(app, P.VIEW_CLIENTS, with_2fa=False)
    response = password_step(client, staff, next="/admin/bank-transfers")
    assert response.location == "/admin/login/enrol?next=/admin/bank-transfers"
    assert client.get("/admin/").location.startswith("/admin/login")
    assert client.get("/admin/login/code").location.startswith("/admin/login/enrol")
    page = client.get(response.location).get_data(as_text=True)
    assert "<svg" in page and "Set up two-factor sign-in" in page
    with client.session_transaction() as session:
        secret = session["staff_pending"]["secret"]
    assert secret in page
    assert code_step_at(client, "/admin/login/enrol", wrong_totp(secret)).status_code == 422
    response = code_step_at(client, "/admin/login/enrol?next=/admin/bank-transfers", pyotp.TOTP(secret).now())
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Save your recovery codes" in page and 'href="/admin/bank-transfers"' in page
    assert "Casey Clerk" in client.get("/admin/").get_data(as_text=True)
    with app.app_context():
        member = db.session.get(Staff, staff.id)
        assert member.has_2fa and member.totp_secret != secret  # stored sealed
        hashes = db.session.scalars(
            sa.select(StaffRecoveryCode.code_hash).where(StaffRecoveryCode.staff_id == staff.id)
        )
        assert len(list(hashes)) == 10
        actions = list(db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == ["staff.two_factor", "staff.sign_in"]
    assert events(app) == [(staff.id, False, "wrong_code"), (staff.id, True, "totp")]


def code_step_at(client, url, code):
    token = csrf_token(client, "/admin/login")
    return client.post(url, data={"code": code, "csrf_token": token})


def test_the_idle_timeout_ends_the_staff_session(app, client):
    staff = make_staff(app, P.VIEW_CLIENTS)
    sign_in_staff(client, staff)
    assert "Casey Clerk" in client.get("/admin/").get_data(as_text=True)
    with client.session_transaction() as session:
        session["staff_seen"] = int(time.time()) - (app.config["STAFF_IDLE_MINUTES"] * 60 + 5)
    response = client.get("/admin/")
    assert response.status_code == 302 and response.location.startswith("/admin/login")
    assert client.get("/admin/").location.startswith("/admin/login")  # the session is gone, not just this request
