"""A change asked for on a non-fresh session is made once the password is confirmed (issue 9).

Before: the password prompt sent the browser to GET a POST-only URL (405) and the
change was lost.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from app.clients.models import User
from app.extensions import db
from tests.helpers import csrf_token, make_proforma
from tests.support.mail_login import link_path


@pytest.fixture
def link_session(app, client, owner):
    """Signed in from an invoice link in an email: not fresh."""
    number = make_proforma(app, owner.client_id, 1000)
    client.get(link_path(app, owner.user_id, number))
    return client


def user(app, user_id: int) -> User:
    with app.app_context():
        found = db.session.get(User, user_id)
        db.session.expunge(found)
        return found


def ask(client, action: str, **fields):
    """Post a form of the Security page, as the browser does (it sends the Referer)."""
    token = csrf_token(client, "/account/security")
    return client.post(
        action,
        data={"csrf_token": token, **fields},
        headers={"Referer": "http://localhost/account/security"},
    )


def confirm(client, asked, password: str):
    """Confirm the password on the page the change led to; follow the 307 as a browser does
    (the same POST body again, to the URL given)."""
    assert asked.status_code == 302
    assert urlsplit(asked.location).path == "/account/reauthenticate"
    page = client.get(asked.location)
    assert "Then we make the change you asked for." in page.get_data(as_text=True)
    body = {"password": password, "csrf_token": csrf_token(client, asked.location)}
    replay = client.post(asked.location, data=body)
    assert replay.status_code == 307
    return client.post(replay.location, data=body, follow_redirects=True)


def test_sign_in_alerts_are_saved_after_the_password(app, link_session, owner):
    asked = ask(link_session, "/account/security/alerts", login_alerts="y")
    assert user(app, owner.user_id).login_alerts is False, "nothing before the password"

    done = confirm(link_session, asked, owner.password)

    assert done.status_code == 200 and done.request.path == "/account/security"
    assert "Saved." in done.get_data(as_text=True)
    assert user(app, owner.user_id).login_alerts is True


def test_the_ip_allow_list_is_saved_after_the_password(app, link_session, owner):
    asked = ask(link_session, "/account/security/allowlist", ip_allowlist="127.0.0.1\n10.0.0.0/8")

    done = confirm(link_session, asked, owner.password)

    assert done.status_code == 200 and "IP allow-list saved." in done.get_data(as_text=True)
    assert user(app, owner.user_id).ip_allowlist == ["127.0.0.1", "10.0.0.0/8"]


def test_a_form_with_a_password_comes_back_with_its_other_values(app, link_session, owner):
    asked = ask(link_session, "/account/security/email", new_email="new@example.com", password=owner.password)
    assert "password" not in str(parse_qs(urlsplit(asked.location).query))

    done = confirm(link_session, asked, owner.password)

    html = done.get_data(as_text=True)
    assert done.status_code == 422 and "405" not in html
    assert 'value="new@example.com"' in html, "the new address is kept"
    assert "Type the password or code of the form again: we never keep them." in html
    with link_session.session_transaction() as session:
        assert owner.password not in str(dict(session)), "no password in the session cookie"


def test_a_trusted_user_change_is_made_after_the_password(app, link_session, owner):
    from tests.support.trusted import make_trusted

    trusted_id = make_trusted(app, owner.client_id)
    token = csrf_token(link_session, "/trusted-users")
    asked = link_session.post(f"/trusted-users/{trusted_id}/suspend", data={"csrf_token": token})

    done = confirm(link_session, asked, owner.password)

    assert done.status_code == 200 and "is suspended" in done.get_data(as_text=True)
    assert user(app, trusted_id).status.value == "suspended"


def test_a_wrong_password_makes_no_change_and_a_kept_change_is_made_once(app, link_session, owner):
    asked = ask(link_session, "/account/security/alerts", login_alerts="y")
    wrong = link_session.post(
        asked.location, data={"password": "not-my-password", "csrf_token": csrf_token(link_session, asked.location)}
    )
    assert wrong.status_code == 422 and user(app, owner.user_id).login_alerts is False

    body = {"password": owner.password, "csrf_token": csrf_token(link_session, asked.location)}
    replay = link_session.post(asked.location, data=body)
    link_session.post(replay.location, data=body)
    assert user(app, owner.user_id).login_alerts is True

    # Switched off since; the same resume URL again puts nothing back.
    ask(link_session, "/account/security/alerts")
    assert user(app, owner.user_id).login_alerts is False
    link_session.post(replay.location, data=body)
    assert user(app, owner.user_id).login_alerts is False
