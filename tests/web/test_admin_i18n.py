"""The staff admin speaks the staff member's browser language (Accept-Language): the sign-in
page and the staff home render in Romanian, the privilege labels too."""

from __future__ import annotations

from flask_babel import force_locale

from app.staff import privileges as P
from tests.support.i18n import translated
from tests.support.staff import make_staff, sign_in_staff

RO = {"Accept-Language": "ro"}


def test_the_staff_sign_in_page_renders_in_romanian(app, client):
    heading, button = translated(app, "ro", "Staff sign in", "Sign in")
    page = client.get("/admin/login", headers=RO).get_data(as_text=True)
    assert f"<h1>{heading}</h1>" in page and button in page
    assert "Staff sign in" not in page


def test_the_staff_home_renders_in_romanian(app, client):
    staff = make_staff(app, P.VIEW_CLIENTS, P.APPROVE_PAYMENTS)
    sign_in_staff(client, staff)
    heading, tile, nav, sign_out = translated(
        app, "ro", "What waits for you", "Bank transfers to review", "Overview", "Sign out"
    )
    page = client.get("/admin/", headers=RO).get_data(as_text=True)
    for text in (heading, tile, nav, sign_out):
        assert text in page
    assert "What waits for you" not in page
    # The same page in English is unchanged.
    english = client.get("/admin/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "What waits for you" in english and heading not in english


def test_privilege_labels_follow_the_language(app):
    (label,) = translated(app, "ro", "Manage staff")
    with app.test_request_context(), force_locale("ro"):
        assert str(P.PRIVILEGES[P.MANAGE_STAFF]) == label
    with app.test_request_context(), force_locale("en"):
        assert str(P.PRIVILEGES[P.MANAGE_STAFF]) == "Manage staff"
