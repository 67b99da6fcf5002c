"""Notifications: the archive of emails sent to the account, and the subscription settings."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.clients.models import Client, ProfileChange, User
from app.core.types import utcnow
from app.extensions import db
from app.notify.models import EmailMessage, MessageStatus
from tests.helpers import csrf_token, login
from tests.support.notifications import make_email, subjects
from tests.support.trusted import TRUSTED_PASSWORD, make_trusted


def email_body(html: str) -> str:
    match = re.search(r'<pre class="email-body">(.*?)</pre>', html, re.S)
    assert match, "no email body on the page"
    return match.group(1)


def checked_types(html: str) -> set[str]:
    inputs = re.findall(r'<input[^>]*name="notification_types"[^>]*>', html)
    assert len(inputs) == 4, "one checkbox per notification type"
    return {re.search(r'value="([^"]+)"', tag).group(1) for tag in inputs if "checked" in tag}


# --- the archive -------------------------------------------------------------------------


def test_owner_sees_every_email_of_the_account_newest_first(app, client, owner, other):
    trusted_id = make_trusted(app, owner.client_id)
    make_email(app, owner.client_id, owner.user_id, "Proforma PF-1 issued")
    make_email(app, owner.client_id, trusted_id, "Receipt for Maria")
    make_email(app, other.client_id, other.user_id, "Someone else's receipt")
    login(client)

    html = client.get("/account/notifications").get_data(as_text=True)

    listed = subjects(html)
    assert listed[:2] == ["Receipt for Maria", "Proforma PF-1 issued"], "newest first"
    assert "Someone else&#39;s receipt" not in html and "Someone else's receipt" not in listed
    assert "maria@example.com" in html and "owner@example.com" in html, "the recipients are shown"
    assert len(listed) == 3, "the two emails and the welcome email of the sign-up"


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        ("Europe/Bucharest", "14 Mar 2026, 11:05"),
        ("America/New_York", "14 Mar 2026, 05:05"),
        ("UTC", "14 Mar 2026, 09:05"),
    ],
)
def test_list_shows_date_in_the_clients_time_zone_and_status(app, client, owner, zone, shown):
    message_id = make_email(app, owner.client_id, owner.user_id, "Payment receipt")
    with app.app_context():
        db.session.get(Client, owner.client_id).timezone = zone
        message = db.session.get(EmailMessage, message_id)
        message.status = MessageStatus.FAILED
        message.created_at = utcnow().replace(year=2026, month=3, day=14, hour=9, minute=5)
        db.session.commit()
    login(client)

    html = client.get("/account/notifications").get_data(as_text=True)

    row = re.search(r"<tr>\s*<td[^>]*>([^<]+)</td>\s*<td[^>]*>(?:(?!</td>).)*?>Payment receipt</a>.*?</tr>", html, re.S)
    assert row, "the email is listed"
    assert row.group(1) == shown  # stored 09:05 UTC
    assert '<span class="badge badge-failed">Failed</span>' in row.group(0)


def test_a_trusted_user_sees_only_their_own_emails(app, client, owner):
    trusted_id = make_trusted(app, owner.client_id)
    make_email(app, owner.client_id, owner.user_id, "Owner only: password reset")
    mine = make_email(app, owner.client_id, trusted_id, "Receipt for Maria")
    owners = make_email(app, owner.client_id, owner.user_id, "Proforma for the owner")
    login(client, "maria@example.com", TRUSTED_PASSWORD)

    html = client.get("/account/notifications").get_data(as_text=True)

    assert subjects(html) == ["Receipt for Maria"]
    assert client.get(f"/account/notifications/{mine}").status_code == 200
    assert client.get(f"/account/notifications/{owners}").status_code == 404


def test_another_clients_email_is_a_404(app, client, owner, other):
    theirs = make_email(app, other.client_id, other.user_id, "Private to the other client", "Secret text")
    login(client)

    response = client.get(f"/account/notifications/{theirs}")

    assert response.status_code == 404
    assert "Secret text" not in response.get_data(as_text=True)
    assert client.get("/account/notifications/999999").status_code == 404


def test_the_archive_needs_a_login(app, client, owner):
    message_id = make_email(app, owner.client_id, owner.user_id, "Receipt")
    assert client.get("/account/notifications").location == "/login?next=/account/notifications"
    assert client.get(f"/account/notifications/{message_id}").location.startswith("/login?next=")


def test_list_pages_by_keyset_with_an_htmx_partial(app, client, owner):
    for i in range(5):
        make_email(app, owner.client_id, owner.user_id, f"Email {i}")
    app.config["NOTIFICATIONS_PER_PAGE"] = 4  # five emails and the welcome email: two pages
    login(client)

    first = client.get("/account/notifications").get_data(as_text=True)
    older = re.search(r'<a href="(/account/notifications\?before=[^"]+)" hx-get="\1"', first)
    assert older, "an Older link that is a plain link and an htmx request"
    second = client.get(older.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"}).get_data(as_text=True)

    assert subjects(first) == ["Email 4", "Email 3", "Email 2", "Email 1"]
    assert "Newer" not in first
    assert second.lstrip().startswith('<div id="notification-list">') and "<html" not in second
    assert len(subjects(second)) == 2 and subjects(second)[0] == "Email 0"
    assert subjects(second)[1].startswith("Welcome to"), "the sign-up's welcome email is the oldest"
    assert "Older" not in second
    newer = re.search(r'<a href="(/account/notifications\?after=[^"]+)"', second).group(1).replace("&amp;", "&")
    assert subjects(client.get(newer).get_data(as_text=True)) == subjects(first), "Newer goes back to page one"


@pytest.mark.parametrize("cursor", ["junk", "email-1-999999999999999999", "sms-9999999999999999999-1", "x-1-1"])
def test_a_forged_page_cursor_is_a_404(app, client, owner, cursor):
    login(client)
    assert client.get(f"/account/notifications?before={cursor}").status_code == 404
    assert client.get(f"/account/notifications?after={cursor}").status_code == 404


def test_one_email_shows_subject_date_recipients_and_escaped_text(app, client, owner):
    body = 'Dear client,\n<script>alert("x")</script>\nPay here: https://billing.example.test/invoices/PF-1'
    message_id = make_email(app, owner.client_id, owner.user_id, "Proforma <b>PF-1</b>", body)
    login(client)

    response = client.get(f"/account/notifications/{message_id}")
    html = response.get_data(as_text=True)

    assert response.status_code == 200
    assert "<h1>Proforma &lt;b&gt;PF-1&lt;/b&gt;</h1>" in html
    assert "owner@example.com" in html
    text = email_body(html)  # the plain-text version, escaped
    assert "<script>" not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in text
    assert "Dear client,\n" in text, "line breaks kept"
    # The HTML version is shown, without its inline styles.
    assert '<article class="card email-html"><p>Proforma <b>PF-1</b></p></article>' in html
    assert "style=" not in html


def test_secret_links_are_removed_and_only_own_login_links_kept(app, client, owner):
    trusted_id = make_trusted(app, owner.client_id)
    own = make_email(
        app,
        owner.client_id,
        owner.user_id,
        "Proforma and reset",
        "Invoice: https://billing.example.test/l/abc.DEF-123\nReset: https://billing.example.test/reset/xyz.789",
    )
    maria = make_email(app, owner.client_id, trusted_id, "Maria's proforma", "https://billing.example.test/l/mar.IA")
    login(client)

    own_text = email_body(client.get(f"/account/notifications/{own}").get_data(as_text=True))
    maria_text = email_body(client.get(f"/account/notifications/{maria}").get_data(as_text=True))

    assert "https://billing.example.test/l/abc.DEF-123" in own_text, "your own invoice link works"
    assert "xyz.789" not in own_text and "personal link removed" in own_text, "a reset link is a takeover"
    assert "mar.IA" not in maria_text and "personal link removed" in maria_text, "it would sign in as Maria"


# --- subscription settings ---------------------------------------------------------------


def test_settings_are_saved_logged_and_shown_checked(app, client, owner):
    login(client)
    with app.app_context():
        before = list(db.session.get(User, owner.user_id).notification_types)
    assert checked_types(client.get("/account/notifications").get_data(as_text=True)) == set(before)

    response = client.post(
        "/account/notifications/settings",
        data={
            "csrf_token": csrf_token(client, "/account/notifications"),
            "notification_types": ["payments", "newsletter"],
        },
    )

    assert response.status_code == 302 and response.location == "/account/notifications"
    page = client.get("/account/notifications").get_data(as_text=True)
    assert checked_types(page) == {"payments", "newsletter"}
    assert "Your email settings were saved." in page
    assert "Security emails (password reset, sign-in alerts, email change) always go" in page
    with app.app_context():
        assert db.session.get(User, owner.user_id).notification_types == ["payments", "newsletter"]
        change = db.session.scalars(
            sa.select(ProfileChange).where(
                ProfileChange.user_id == owner.user_id, ProfileChange.field == "notification_types"
            )
        ).one()
        assert change.old_value == ", ".join(before) and change.new_value == "payments, newsletter"
        assert change.actor == f"user:{owner.user_id}"


def test_unticking_everything_unsubscribes_from_all(app, client, owner):
    login(client)
    response = client.post(
        "/account/notifications/settings", data={"csrf_token": csrf_token(client, "/account/notifications")}
    )
    assert response.status_code == 302
    assert checked_types(client.get("/account/notifications").get_data(as_text=True)) == set()
    with app.app_context():
        assert db.session.get(User, owner.user_id).notification_types == []


def test_a_trusted_user_sets_their_own_subscriptions(app, client, owner):
    trusted_id = make_trusted(app, owner.client_id, notification_types=["invoices"])
    with app.app_context():
        owner_before = list(db.session.get(User, owner.user_id).notification_types)
    login(client, "maria@example.com", TRUSTED_PASSWORD)
    assert checked_types(client.get("/account/notifications").get_data(as_text=True)) == {"invoices"}

    client.post(
        "/account/notifications/settings",
        data={"csrf_token": csrf_token(client, "/account/notifications"), "notification_types": ["service_status"]},
    )

    assert checked_types(client.get("/account/notifications").get_data(as_text=True)) == {"service_status"}
    with app.app_context():
        assert db.session.get(User, trusted_id).notification_types == ["service_status"]
        assert db.session.get(User, owner.user_id).notification_types == owner_before, "the owner's are theirs"


def test_an_unknown_type_is_refused(app, client, owner):
    login(client)
    with app.app_context():
        before = list(db.session.get(User, owner.user_id).notification_types)

    response = client.post(
        "/account/notifications/settings",
        data={"csrf_token": csrf_token(client, "/account/notifications"), "notification_types": ["sms_spam"]},
    )

    assert response.status_code == 422
    assert "is not a valid choice" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, owner.user_id).notification_types == before


def test_settings_without_csrf_are_refused(app, client, owner):
    login(client)
    with app.app_context():
        before = list(db.session.get(User, owner.user_id).notification_types)

    response = client.post("/account/notifications/settings", data={"notification_types": ["newsletter"]})

    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(User, owner.user_id).notification_types == before
        assert not db.session.scalars(sa.select(ProfileChange).where(ProfileChange.field == "notification_types")).all()


def test_settings_need_a_login(app, client, owner):
    token = csrf_token(client, "/login")
    response = client.post("/account/notifications/settings", data={"csrf_token": token, "notification_types": []})
    assert response.status_code == 302 and response.location.startswith("/login")


def test_email_dates_are_ordered_not_ids(app, client, owner):
    make_email(app, owner.client_id, owner.user_id, "Dated later")
    older = make_email(app, owner.client_id, owner.user_id, "Written later, dated earlier")
    with app.app_context():
        db.session.get(EmailMessage, older).created_at = utcnow() - timedelta(days=30)
        db.session.commit()
    login(client)
    listed = subjects(client.get("/account/notifications").get_data(as_text=True))
    assert listed.index("Dated later") < listed.index("Written later, dated earlier")
