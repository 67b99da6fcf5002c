"""Helpers for tests: CSRF tokens, accounts, logging in."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa

from app.account.models import ClientKind
from app.account.services import SignUp, register_client
from app.extensions import db

_CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf-token" content="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF_RE.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


def csrf_token(client, url: str = "/login") -> str:
    """The CSRF token of this client's session, read from a real page."""
    return csrf_from(client.get(url).get_data(as_text=True))


@dataclass(frozen=True)
class Account:
    user_id: int
    client_id: int
    email: str
    password: str


def make_owner(app, email: str = "owner@example.com", password: str = "correct-horse-1", **fields) -> Account:
    """A committed client with its owner user, made through the sign-up service."""
    data = {
        "email": email,
        "password": password,
        "name": "Ion Ionescu",
        "kind": ClientKind.PERSON,
        "country": "RO",
        **fields,
    }
    with app.app_context():
        user = register_client(SignUp(**data))
        db.session.commit()
        return Account(user.id, user.client_id, email, password)


def count(app, model, *where) -> int:
    """How many rows of `model` match `where`."""
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def login(client, email: str = "owner@example.com", password: str = "correct-horse-1", **extra):
    """Log in through the real form (CSRF included); returns the response."""
    token = csrf_token(client, "/login")
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token, **extra})
