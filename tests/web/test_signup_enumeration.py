"""Sign-up and password reset tell nobody whether an address has an account (issue 9).

Same answer, and the same work in the request: a job decides which email to write.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from itsdangerous import URLSafeTimedSerializer

from app.clients.models import Client, User
from app.core.queue import get_queue
from app.extensions import db
from app.notify.models import EmailMessage
from tests.helpers import count, csrf_token
from tests.support.signup import GOOD, confirm_link

KNOWN = "owner@example.com"
NEW = "newcomer@example.com"


def emails(app, template: str) -> list[EmailMessage]:
    with app.app_context():
        return db.session.scalars(sa.select(EmailMessage).where(EmailMessage.template == template)).all()


def sign_up(app, address: str, headers=None):
    """A sign-up from a browser of its own; returns (the answer, the page it leads to)."""
    browser = app.test_client()
    data = {
        **GOOD,
        "email": address,
        "password": "another-long-password",
        "csrf_token": csrf_token(browser, "/register"),
    }
    response = browser.post("/register", data=data, headers=headers or {})
    return response, browser.get("/register/sent")


def forgot(app, address: str):
    browser = app.test_client()
    data = {"email": address, "csrf_token": csrf_token(browser, "/forgot-password")}
    response = browser.post("/forgot-password", data=data)
    return response, browser.get("/login")


def same_answer(first, second, first_address: str, second_address: str) -> None:
    (answer_a, page_a), (answer_b, page_b) = first, second
    assert answer_a.status_code == answer_b.status_code
    assert answer_a.headers.get("Location") == answer_b.headers.get("Location")
    assert answer_a.headers.get("HX-Redirect") == answer_b.headers.get("HX-Redirect")
    assert answer_a.get_data() == answer_b.get_data()
    assert page_a.status_code == page_b.status_code == 200
    body_a = page_a.get_data(as_text=True).replace(first_address, "ADDRESS")
    body_b = page_b.get_data(as_text=True).replace(second_address, "ADDRESS")
    # Only the CSRF token of each browser's session may differ.
    strip = lambda html: "\n".join(line for line in html.splitlines() if "csrf" not in line.lower())  # noqa: E731
    assert strip(body_a) == strip(body_b)


@pytest.mark.parametrize("htmx", [False, True], ids=["form", "htmx"])
def test_sign_up_answers_the_same_for_a_known_and_a_new_address(app, owner, htmx):
    headers = {"HX-Request": "true"} if htmx else {}
    known, new = sign_up(app, KNOWN, headers), sign_up(app, NEW, headers)

    same_answer(known, new, KNOWN, NEW)
    assert "Check your inbox" in new[1].get_data(as_text=True)
    assert "already exists" not in known[1].get_data(as_text=True)
    assert count(app, Client) == 1 and count(app, User) == 1, "nothing is created before the link is followed"


def test_the_owner_is_told_someone_tried_to_sign_up_with_their_address(app, owner):
    with app.app_context():
        hash_before = db.session.get(User, owner.user_id).password_hash

    sign_up(app, KNOWN.upper())

    [notice] = emails(app, "signup_existing")
    assert notice.recipients == [KNOWN] and notice.user_id == owner.user_id and notice.client_id == owner.client_id
    assert "tried to create a new" in notice.body_text and "nothing was created" in notice.body_text
    assert "https://billing.example.test/login" in notice.body_text
    assert "https://billing.example.test/forgot-password" in notice.body_html
    assert emails(app, "signup_confirm") == [], "no confirmation link to an address that has an account"
    with app.app_context():
        assert db.session.get(User, owner.user_id).password_hash == hash_before, "the account is untouched"


def test_the_confirmation_link_creates_the_account_once(app, client):
    sign_up(app, NEW)
    link = confirm_link(app, NEW)

    page = client.get(link)  # what a mail scanner opening the link would do
    assert page.status_code == 200 and "Create my account" in page.get_data(as_text=True)
    assert count(app, User) == 0, "opening the link creates nothing"

    done = client.post(link, data={"csrf_token": csrf_token(client, link)})
    assert done.status_code == 302 and done.location == "/"
    assert "Hello, Maria" in client.get("/").get_data(as_text=True)
    assert count(app, User, User.email == NEW) == 1
    assert [m.recipients for m in emails(app, "welcome")] == [[NEW]]

    again = app.test_client().get(link)
    assert again.status_code == 302 and again.location == "/login"
    assert count(app, User) == 1


def test_the_password_typed_at_sign_up_is_the_one_that_works(app, client):
    sign_up(app, NEW)
    link = confirm_link(app, NEW)
    client.post(link, data={"csrf_token": csrf_token(client, link)})
    from tests.helpers import login

    assert login(app.test_client(), NEW, "another-long-password").location == "/"
    assert login(app.test_client(), NEW, GOOD["password"]).status_code == 422


def test_the_link_shows_nothing_of_what_was_typed(app):
    sign_up(app, NEW)
    token = confirm_link(app, NEW).rsplit("/", 1)[1]
    sealed = URLSafeTimedSerializer("any").loads_unsafe(token, salt="sign-up")[1]
    assert sealed.startswith("v1:")
    for secret in ("argon2", "Maria", NEW, "722"):
        assert secret not in json.dumps(sealed)


def test_an_expired_or_forged_link_creates_nothing(app, client, monkeypatch):
    sign_up(app, NEW)
    link = confirm_link(app, NEW)
    forged = client.get(link[:-3] + ("xyz" if not link.endswith("xyz") else "abc"))
    assert forged.status_code == 302 and forged.location == "/register"
    app.config["SIGNUP_CONFIRM_MAX_AGE"] = -1
    expired = client.get(link)
    assert expired.status_code == 302 and expired.location == "/register"
    assert "expired" in client.get("/register").get_data(as_text=True)
    assert count(app, User) == 0


def test_forgot_password_answers_the_same_for_a_known_and_an_unknown_address(app, owner):
    same_answer(forgot(app, KNOWN), forgot(app, NEW), KNOWN, NEW)
    assert [m.recipients for m in emails(app, "password_reset")] == [[KNOWN]]


class TestTheRequestDoesTheSameWork:
    """With Redis, as in production: each request only hands over one job of the same
    kind, and renders no email; the job alone looks the address up."""

    pytestmark = pytest.mark.redis

    @pytest.fixture
    def app_overrides(self, redis_url):
        return {"REDIS_URL": redis_url}

    def handed_over(self, app) -> list[tuple[str, int]]:
        with app.app_context():
            queue = get_queue()
            jobs = [queue.fetch_job(job_id) for job_id in queue.job_ids]
            queue.empty()
        return [(job.func_name, len(job.args)) for job in jobs], jobs

    def run(self, app, jobs) -> None:
        with app.app_context():
            for job in jobs:
                job.func(*job.args)

    @pytest.mark.parametrize(
        ("ask", "job_name", "template"),
        [
            (forgot, "app.auth.signup.password_reset_requested", "password_reset"),
            (sign_up, "app.auth.signup.sign_up_requested", "signup_existing"),
        ],
        ids=["forgot-password", "register"],
    )
    def test_known_and_unknown_addresses_hand_over_the_same_job(self, app, owner, ask, job_name, template):
        before = count(app, EmailMessage)  # the owner's welcome
        self.handed_over(app)  # its send job: not part of the test
        ask(app, KNOWN)
        known, known_jobs = self.handed_over(app)
        assert count(app, EmailMessage) == before, "the request renders no email"
        ask(app, NEW)
        unknown, unknown_jobs = self.handed_over(app)
        assert count(app, EmailMessage) == before

        assert known == unknown == [(job_name, 1)]
        self.run(app, known_jobs)
        assert [m.recipients for m in emails(app, template)] == [[KNOWN]]
        self.run(app, unknown_jobs)
        to_new = [m for m in emails(app, "signup_confirm")]
        if template == "password_reset":
            assert count(app, EmailMessage) == before + 1, "an unknown address gets no reset email"
        else:
            assert [m.recipients for m in to_new] == [[NEW]]
