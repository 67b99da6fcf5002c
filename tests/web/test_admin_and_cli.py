"""Demo data, staff accounts and the staff login."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.clients.models import Client, User
from app.extensions import db
from app.staff import privileges as P
from app.staff.models import Staff
from tests.helpers import count, csrf_token, login, make_owner

#: These test the password step and the commands; the second factor (required by
#: default) has its own tests in test_staff_sign_in.py.
pytestmark = pytest.mark.app_config(STAFF_2FA_REQUIRED=False)


def staff_login(client, email="admin@example.com", password="admin-password-1"):
    token = csrf_token(client, "/admin/login")
    return client.post("/admin/login", data={"email": email, "password": password, "csrf_token": token})


def test_seed_demo_creates_the_demo_accounts_once(app, client, runner):
    first = runner.invoke(args=["seed-demo"])
    second = runner.invoke(args=["seed-demo"])

    assert first.exit_code == 0 and "demo owner: demo@example.com" in first.output
    assert second.exit_code == 0 and "demo owner" not in second.output
    assert count(app, User, User.email == "demo@example.com") == 1
    assert count(app, Staff, Staff.email == "admin@example.com") == 1
    assert count(app, Client) == 1

    assert login(client, "demo@example.com", "demo-password-1").location == "/"
    assert "Popescu Web SRL" in client.get("/").get_data(as_text=True)


def test_create_staff_then_staff_sees_admin_home(app, client, runner):
    result = runner.invoke(
        args=[
            "create-staff",
            "--email",
            "Ops@Example.com",
            "--name",
            "Ops Person",
            "--password",
            "a-strong-pass-1",
        ]
    )
    assert result.exit_code == 0, result.output

    assert staff_login(client, "ops@example.com", "a-strong-pass-1").location == "/admin/"
    page = client.get("/admin/").get_data(as_text=True)
    assert "Signed in as Ops Person" in page and "What waits for you" in page


def test_create_staff_with_roles_seeds_the_default_roles_and_refuses_unknown_ones(app, runner):
    args = ["create-staff", "--email", "clerk@example.com", "--name", "Clerk", "--password", "a-strong-pass-1"]
    result = runner.invoke(args=[*args, "--role", "Billing clerk", "--role", "Support"])
    assert result.exit_code == 0 and "(Billing clerk, Support)" in result.output
    with app.app_context():
        staff = db.session.scalar(sa.select(Staff).where(Staff.email == "clerk@example.com"))
        assert staff.has_privilege(P.APPROVE_PAYMENTS) and staff.has_privilege(P.LOGIN_AS_CLIENT)
        assert not staff.has_privilege(P.MANAGE_STAFF)
    unknown = runner.invoke(
        args=[
            "create-staff",
            "--email",
            "x@example.com",
            "--name",
            "X",
            "--password",
            "a-strong-pass-1",
            "--role",
            "Boss",
        ]
    )
    assert unknown.exit_code != 0 and "No role named 'Boss'" in unknown.output and "Billing clerk" in unknown.output
    assert count(app, Staff, Staff.email == "x@example.com") == 0


def test_create_staff_refuses_short_password_and_duplicates(app, runner):
    short = runner.invoke(args=["create-staff", "--email", "a@example.com", "--name", "A", "--password", "short"])
    assert short.exit_code != 0 and "at least 12 characters" in short.output
    ok = ["create-staff", "--email", "a@example.com", "--name", "A", "--password", "a-strong-pass-1"]
    assert runner.invoke(args=ok).exit_code == 0
    again = runner.invoke(args=ok)
    assert again.exit_code != 0 and "already exists" in again.output
    assert count(app, Staff) == 1


def test_staff_wrong_password_is_refused(app, client, runner):
    runner.invoke(args=["seed-demo"])
    response = staff_login(client, password="wrong-password")
    assert response.status_code == 422
    assert "The email or password is incorrect." in response.get_data(as_text=True)
    assert client.get("/admin/").location == "/admin/login?next=/admin/"


def test_client_user_is_not_staff(app, client):
    make_owner(app)
    login(client)
    response = client.get("/admin/")
    assert response.status_code == 302 and response.location == "/admin/login"


def test_staff_is_sent_to_the_admin_from_the_client_area(app, client, runner):
    runner.invoke(args=["seed-demo"])
    staff_login(client)
    assert client.get("/").location == "/admin/"


def test_client_credentials_do_not_open_the_admin(app, client):
    make_owner(app)
    response = staff_login(client, "owner@example.com", "correct-horse-1")
    assert response.status_code == 422


@pytest.mark.parametrize("path", ["/admin/", "/"])
def test_staff_logout_ends_the_session(app, client, runner, path):
    runner.invoke(args=["seed-demo"])
    staff_login(client)
    client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    assert client.get(path).status_code == 302
    assert "/login" in client.get(path).location
