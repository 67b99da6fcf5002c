"""Recovery codes can be downloaded as a text file, right after they are made (issue 9)."""

from __future__ import annotations

import re
import time

from tests.helpers import csrf_token, login
from tests.support.security import enable_2fa

DOWNLOAD = "/account/security/2fa/recovery-codes/download"


def download(client):
    return client.post(DOWNLOAD, data={"csrf_token": csrf_token(client, "/account/security")})


def test_the_codes_just_shown_download_once_as_a_text_file(app, client, owner):
    login(client)
    _, codes = enable_2fa(app, client)

    response = download(client)

    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.headers["Content-Disposition"] == 'attachment; filename="billfold-recovery-codes.txt"'
    assert re.findall(r"^[0-9a-f]{5}-[0-9a-f]{5}$", response.get_data(as_text=True), re.M) == codes
    again = download(client)
    assert again.status_code == 302 and again.location == "/account/security"
    assert "downloaded only once" in client.get("/account/security").get_data(as_text=True)


def test_new_codes_download_and_the_page_offers_it(app, client, owner):
    login(client)
    enable_2fa(app, client)
    download(client)
    page = client.post("/account/security/2fa/recovery-codes", data={"csrf_token": csrf_token(client, "/")})
    html = page.get_data(as_text=True)
    new_codes = re.findall(r"<li>([0-9a-f]{5}-[0-9a-f]{5})</li>", html)
    assert "Download as a text file" in html

    assert re.findall(r"[0-9a-f]{5}-[0-9a-f]{5}", download(client).get_data(as_text=True)) == new_codes


def test_no_download_of_codes_replaced_since_or_later(app, client, owner, monkeypatch):
    from app.clients.models import User
    from app.extensions import db
    from app.security import services as security

    login(client)
    enable_2fa(app, client)
    with app.app_context():
        security.new_recovery_codes(db.session.get(User, owner.user_id))  # as from another browser
        db.session.commit()
    assert download(client).status_code == 302, "codes made again elsewhere no longer download"

    client.post("/account/security/2fa/recovery-codes", data={"csrf_token": csrf_token(client, "/")})
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 601)
    assert download(client).status_code == 302, "too late"


def test_a_browser_that_made_no_codes_downloads_none(app, client, owner):
    login(client)
    assert download(client).status_code == 302


def test_the_session_cookie_does_not_show_the_codes(app, client, owner):
    login(client)
    _, codes = enable_2fa(app, client)
    with client.session_transaction() as session:
        assert not any(code in str(dict(session)) for code in codes)
