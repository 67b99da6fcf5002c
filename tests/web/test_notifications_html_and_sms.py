"""The notifications archive: emails as sanitized HTML with working links, SMS beside them, filters."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import pytest

from app.core.types import utcnow
from app.extensions import db
from app.notify.models import EmailMessage, SmsMessage, SmsStatus
from tests.helpers import login, make_owner
from tests.support.notifications import make_email, subjects
from tests.support.trusted import TRUSTED_PASSWORD, make_trusted

HOSTILE = """<!doctype html><html><head><title>Leak</title><style>body{display:none}</style></head>
<body style="background:red">
<script>alert(1)</script>
<p onclick="steal()">Hello <strong>client</strong>,</p>
<img src="https://tracker.example.test/open.gif" alt="pixel">
<p><a href="https://billing.example.test/invoices/PF-1" target="_blank" onmouseover="x()">PF-1</a>
<a href="javascript:alert(2)">bad</a> <a href="data:text/html,hi">data</a> <a href="/relative">rel</a>
<a href="mailto:support@example.test">mail us</a></p>
<form action="https://evil.example.test/"><input name="password"><button>Go</button></form>
<iframe src="https://evil.example.test/"></iframe>
<table class="email-lines other"><tr><td>Hosting</td><td align="right">€10.00</td></tr></table>
</body></html>"""


def make_sms(app, client_id: int, user_id: int, body: str, status=SmsStatus.SENT, **fields) -> int:
    with app.app_context():
        message = SmsMessage(
            client_id=client_id,
            user_id=user_id,
            event_key=f"test:{body}",
            phone="+40722000111",
            sender="Hostico",
            body=body,
            status=status,
            **fields,
        )
        db.session.add(message)
        db.session.commit()
        return message.id


def shown_email(html: str) -> str:
    match = re.search(r'<article class="card email-html">(.*?)</article>', html, re.S)
    assert match, "the email's HTML is shown in a card"
    return match.group(1)


def sms_texts(html: str) -> list[str]:
    return re.findall(r'<span class="sms-text">([^<]*)</span>', html)


def test_the_html_version_is_sanitized_and_its_links_work(app, client, owner):
    message_id = make_email(app, owner.client_id, owner.user_id, "Hostile", body_html=HOSTILE)
    login(client)

    response = client.get(f"/account/notifications/{message_id}")
    email = shown_email(response.get_data(as_text=True))

    assert "<strong>client</strong>" in email and "Hello" in email
    for gone in ("<script", "alert(1)", "<style", "display:none", "<title", "Leak", "style=", "onclick", "onmouseover",
                 "<img", "tracker.example.test", "<form", "<input", "<iframe", "evil.example.test", "javascript:",
                 "data:text", 'href="/relative"', 'target="'):  # fmt: skip
        assert gone not in email, gone
    assert '<a href="https://billing.example.test/invoices/PF-1" rel="noopener noreferrer">PF-1</a>' in email
    assert '<a href="mailto:support@example.test" rel="noopener noreferrer">mail us</a>' in email
    assert '<table class="email-lines">' in email and '<td align="right">€10.00</td>' in email
    assert "img-src 'self' data:" in response.headers["Content-Security-Policy"], "and the CSP blocks remote content"


def test_secret_links_in_the_html_are_unlinked_and_own_login_links_clickable(app, client, owner):
    html = (
        '<p><a href="https://billing.example.test/l/own.TOKEN">PF-1</a> '
        '<a href="https://billing.example.test/reset/res.ET">Reset your password</a> '
        "Or paste https://billing.example.test/reset/res.ET</p>"
    )
    message_id = make_email(app, owner.client_id, owner.user_id, "Links", body_html=html)
    trusted_id = make_trusted(app, owner.client_id)
    marias = make_email(
        app,
        owner.client_id,
        trusted_id,
        "Maria's",
        body_html='<a href="https://billing.example.test/l/mar.IA">PF-2</a>',
    )
    login(client)

    page = client.get(f"/account/notifications/{message_id}").get_data(as_text=True)
    email = shown_email(page)
    maria = shown_email(client.get(f"/account/notifications/{marias}").get_data(as_text=True))

    assert '<a href="https://billing.example.test/l/own.TOKEN" rel="noopener noreferrer">PF-1</a>' in email
    assert "res.ET" not in email and '<a rel="noopener noreferrer">Reset your password</a>' in email
    assert "personal link removed" in email
    assert "Personal links (password reset, invitations" in page, "the reader is told why"
    assert "mar.IA" not in maria and '<a rel="noopener noreferrer">PF-2</a>' in maria, "it would sign in as Maria"


def test_sms_are_listed_with_their_status_and_only_to_whom_they_may_be_shown(app, client, owner):
    trusted_id = make_trusted(app, owner.client_id)
    other = make_owner(app, email="other@example.com")
    make_sms(app, owner.client_id, owner.user_id, "Hostico: proforma PF-1 is due.", SmsStatus.SENT)
    make_sms(app, owner.client_id, trusted_id, "Hostico: site.example was suspended.", SmsStatus.FAILED)
    make_sms(app, other.client_id, other.user_id, "Someone else's SMS")
    login(client)

    page = client.get("/account/notifications").get_data(as_text=True)

    assert sms_texts(page) == ["Hostico: site.example was suspended.", "Hostico: proforma PF-1 is due."]
    row = re.search(r"<tr>(?:(?!</tr>).)*site\.example was suspended.*?</tr>", page, re.S).group(0)
    assert '<span class="badge badge-failed">Failed</span>' in row and "+40722000111" in row
    assert "Someone else" not in page

    trusted = client.application.test_client()
    login(trusted, "maria@example.com", TRUSTED_PASSWORD)
    assert sms_texts(trusted.get("/account/notifications").get_data(as_text=True)) == [
        "Hostico: site.example was suspended."
    ]


def test_filter_by_type_and_dates_with_htmx_or_plain_links(app, client, owner):
    old = make_email(app, owner.client_id, owner.user_id, "Old receipt", template="payment_receipt")
    make_email(app, owner.client_id, owner.user_id, "New proforma", template="proforma_issued")
    make_email(app, owner.client_id, owner.user_id, "Password reset", template="password_reset")
    make_sms(app, owner.client_id, owner.user_id, "Hostico: proforma PF-1 is due.")
    # Noon UTC, 40 days ago: the same calendar day in the client's zone (Europe/Bucharest) at
    # any hour this test runs; "now - 40 days" is the next day there after 22:00 UTC.
    sent = datetime.combine(utcnow().date() - timedelta(days=40), time(12), UTC)
    with app.app_context():
        db.session.get(EmailMessage, old).created_at = sent
        db.session.commit()
    login(client)
    day = sent.strftime("%Y-%m-%d")

    def listed(query: str, **headers) -> tuple[list[str], list[str]]:
        html = client.get(f"/account/notifications?{query}", headers=headers).get_data(as_text=True)
        return subjects(html), sms_texts(html)

    assert listed("type=invoices") == (["New proforma"], [])
    assert listed("type=payments", **{"HX-Request": "true"}) == (["Old receipt"], [])
    assert listed("type=sms") == ([], ["Hostico: proforma PF-1 is due."])
    account = listed("type=account")[0]
    assert "Password reset" in account and "New proforma" not in account and "Old receipt" not in account
    assert listed(f"since={day}&until={day}") == (["Old receipt"], [])
    recent = listed(f"since={(utcnow() - timedelta(days=1)).strftime('%Y-%m-%d')}")
    assert "Old receipt" not in recent[0] and "New proforma" in recent[0] and recent[1]

    page = client.get("/account/notifications?type=invoices").get_data(as_text=True)
    assert '<option selected value="invoices">' in page, "the filter shows what it applies"
    assert 'hx-get="/account/notifications" hx-target="#notification-list"' in page


def test_filters_keep_to_the_pages(app, client, owner):
    for i in range(3):
        make_email(app, owner.client_id, owner.user_id, f"Proforma {i}", template="proforma_issued")
    make_email(app, owner.client_id, owner.user_id, "Receipt", template="payment_receipt")
    app.config["NOTIFICATIONS_PER_PAGE"] = 2
    login(client)

    first = client.get("/account/notifications?type=invoices").get_data(as_text=True)
    older = re.search(r'<a href="(/account/notifications\?[^"]*before=[^"]+)"', first).group(1).replace("&amp;", "&")

    assert "type=invoices" in older
    assert subjects(client.get(older).get_data(as_text=True)) == ["Proforma 0"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("since=2026-13-40", "Not a valid date value."),
        ("since=2026-05-02&until=2026-05-01", "The end date is before the start date."),
        ("type=spam", "Not a valid choice."),
    ],
)
def test_a_bad_filter_is_explained_beside_its_field(app, client, owner, query, message):
    make_email(app, owner.client_id, owner.user_id, "Receipt")
    login(client)

    html = client.get(f"/account/notifications?{query}").get_data(as_text=True)

    assert re.search(rf'<div class="field-msg" id="[a-z]+-msg"><p class="error">{re.escape(message)}</p>', html)
    assert subjects(html) == []
