"""The client profile speaks the staff member's language (here Accept-Language: ro)."""

from __future__ import annotations

from flask_babel import force_locale, gettext

from app.staff import privileges as P
from tests.support.staff import make_staff, sign_in_staff

LABELS = ["Summary", "Balance", "Income to date", "Needs staff", "Nothing waits for staff on this account."]


def test_summary_tab_renders_in_romanian(app, owner):
    client = app.test_client()
    sign_in_staff(client, make_staff(app, P.VIEW_CLIENTS, email="ro-viewer@example.com"))
    response = client.get(f"/admin/clients/{owner.client_id}/summary", headers={"Accept-Language": "ro"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    with app.test_request_context(), force_locale("ro"):
        expected = {label: gettext(label) for label in LABELS}
    for label, text in expected.items():
        assert text != label, f"{label!r} has no Romanian translation"
        assert text in html, text
