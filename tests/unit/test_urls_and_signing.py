"""Safe redirects, email links from configuration, and signed tokens."""

from __future__ import annotations

import time

import pytest

from app.core.signing import InvalidToken, sign, unsign
from app.core.urls import external_url, is_safe_next


@pytest.mark.parametrize("target", ["/", "/invoices/F-2026-1?x=1", "/wallet#top"])
def test_local_paths_are_safe(target):
    assert is_safe_next(target)


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "evil.example/x",
        "/\nLocation: x",
        "\\\\evil",
    ],
)
def test_other_targets_are_not(target):
    assert not is_safe_next(target)


def test_external_url_uses_configured_host_even_inside_a_request(app_in_context):
    with app_in_context.test_request_context("/", headers={"Host": "evil.example"}):
        assert external_url("auth.login") == "https://billing.example.test/login"


def test_token_round_trip_and_purpose(app_in_context):
    token = sign({"u": 1}, salt="invoice-login")
    assert unsign(token, salt="invoice-login", max_age=60) == {"u": 1}
    with pytest.raises(InvalidToken):
        unsign(token, salt="password-reset", max_age=60)
    with pytest.raises(InvalidToken):
        unsign(token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1], salt="invoice-login", max_age=60)


def test_token_expires(app_in_context, monkeypatch):
    token = sign({"u": 1}, salt="s")
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 3600)
    with pytest.raises(InvalidToken) as error:
        unsign(token, salt="s", max_age=60)
    assert error.value.expired


def test_token_signed_with_a_previous_key_still_verifies(app_in_context):
    token = sign({"u": 1}, salt="s")
    app_in_context.config["SECRET_KEY_FALLBACKS"] = [app_in_context.config["SECRET_KEY"]]
    app_in_context.config["SECRET_KEY"] = "a-new-key"
    assert unsign(token, salt="s", max_age=60) == {"u": 1}
    app_in_context.config["SECRET_KEY_FALLBACKS"] = []
    with pytest.raises(InvalidToken):
        unsign(token, salt="s", max_age=60)
