"""Sign-up by confirmed email, and the password-reset request: the same answer and
the same work in the request for an address with an account and one without.

The request only checks the form, hashes the password (sign-up), seals what was
typed into a token and hands one job over. The job looks the address up and
writes the email that fits: a confirmation link for a new address, a "someone
tried to sign up with your address" notice for an existing account. The account
is created only when the link is followed, so nobody holds an address they
cannot read, and the page never tells whether the address was known.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from flask import current_app

from app.auth.services import SignUp
from app.clients.models import ClientKind
from app.clients.services import find_user_by_email, normalize_email
from app.core.passwords import hash_password
from app.core.queue import enqueue, job
from app.core.secretbox import SealBroken, open_sealed, seal
from app.core.signing import InvalidToken, sign, unsign
from app.core.urls import external_url
from app.extensions import db
from app.notify.services import queue_email
from app.security import services as security

SIGNUP_SALT = "sign-up"
_SEAL_PURPOSE = "sign-up"


@dataclass(frozen=True)
class Addressee:
    """An address with no user behind it yet (queue_email's `to`)."""

    email: str
    name: str
    language: str | None = None
    id: None = None


def sign_up_token(data: SignUp) -> str:
    """The confirmation link's token: the form, with the password already hashed,
    sealed (the link may be logged; it shows nothing) and signed with a max age."""
    fields = asdict(data) | {"email": normalize_email(data.email), "password": "", "kind": data.kind.value}
    fields["password_hash"] = hash_password(data.password)
    return sign(seal(json.dumps(fields), _SEAL_PURPOSE), salt=SIGNUP_SALT)


def sign_up_from_token(token: str) -> SignUp:
    """The sign-up a confirmation link carries. Raises InvalidToken (expired, forged)."""
    sealed = unsign(token, salt=SIGNUP_SALT, max_age=current_app.config["SIGNUP_CONFIRM_MAX_AGE"])
    try:
        fields = json.loads(open_sealed(str(sealed), _SEAL_PURPOSE)[0])
    except (SealBroken, ValueError):
        raise InvalidToken() from None
    return SignUp(**fields | {"kind": ClientKind(fields["kind"])})


def request_sign_up(data: SignUp) -> None:
    """Hand the sign-up to a job; the same work whether or not the address has an account."""
    _run_job("app.auth.signup.sign_up_requested", sign_up_token(data))


def request_password_reset(email: str) -> None:
    """Hand the reset request to a job; the same work whether or not the address has an account."""
    _run_job("app.auth.signup.password_reset_requested", normalize_email(email))


def _run_job(path: str, argument: str) -> None:
    # Redis unreachable: do it here rather than lose the email (only then does the
    # request's work depend on the address).
    if not enqueue(path, argument):
        globals()[path.rpartition(".")[2]](argument)


@job
def sign_up_requested(token: str) -> None:
    """Email a new address its confirmation link, or an existing account's owner a notice."""
    data = sign_up_from_token(token)
    user = find_user_by_email(data.email)
    if user is None:
        queue_email(
            "signup_confirm",
            to=Addressee(email=data.email, name=data.name, language=data.language),
            confirm_url=external_url("auth.register_confirm", token=token),
            max_age_hours=current_app.config["SIGNUP_CONFIRM_MAX_AGE"] // 3600,
        )
    else:
        queue_email(
            "signup_existing",
            to=user,
            client=user.client,
            login_url=external_url("auth.login"),
            reset_url=external_url("auth.forgot_password"),
        )
    db.session.commit()


@job
def password_reset_requested(email: str) -> None:
    """Email the reset link if the address belongs to an active user (else nothing)."""
    security.request_password_reset(email)
    db.session.commit()
