"""One budget of wrong passwords and codes per account, whatever the form (issue 9)."""

from __future__ import annotations

import pytest

from app.core.ratelimit import limiter
from tests.helpers import csrf_token, login, make_owner, wrong_totp
from tests.support.security import enable_2fa, user_row

WRONG = "not-my-password"


# The per-route IP limit out of the way: only the per-account budget is under test.
pytestmark = pytest.mark.app_config(
    RATELIMIT_ENABLED=True, RATE_LIMIT_LOGIN_ACCOUNT="5 per minute", RATE_LIMIT_LOGIN_IP="100/minute"
)


@pytest.fixture(autouse=True)
def fresh_limiter(app):
    """No spent budget left over from another test: reset before the owner is made."""
    limiter.reset()


def change_password(client, current: str):
    token = csrf_token(client, "/account/security")
    data = {"current_password": current, "new_password": "a-brand-new-password", "csrf_token": token}
    return client.post("/account/security/password", data=data)


def change_email(client, current: str):
    token = csrf_token(client, "/account/security")
    return client.post(
        "/account/security/email", data={"new_email": "new@example.com", "password": current, "csrf_token": token}
    )


def reauthenticate(client, password: str):
    token = csrf_token(client, "/account/reauthenticate")
    return client.post("/account/reauthenticate", data={"password": password, "csrf_token": token})


FORMS = {"password change": change_password, "email change": change_email, "reauthenticate": reauthenticate}


@pytest.mark.parametrize("sixth", FORMS)
def test_wrong_passwords_on_any_form_spend_one_budget(app, client, owner, sixth):
    login(client)
    tries = [change_password, change_email, reauthenticate, change_password, change_email]
    assert [attempt(client, WRONG).status_code for attempt in tries] == [422] * 5

    refused = FORMS[sixth](client, owner.password)

    assert refused.status_code == 429
    assert "Too many wrong passwords or codes" in refused.get_data(as_text=True)
    with app.app_context():
        from app.core.passwords import verify_password

        assert verify_password(user_row(app, owner.user_id).password_hash, owner.password), "nothing changed"
    assert user_row(app, owner.user_id).email == owner.email
    # The sign-in form of the same account is closed too, even with the right password.
    assert login(app.test_client()).status_code == 429


def test_wrong_sign_ins_spend_the_budget_of_the_forms_inside(app, client, owner):
    for _ in range(4):
        assert login(app.test_client(), password=WRONG).status_code == 422
    assert login(client).location == "/"  # the right password is not a wrong try
    assert change_password(client, WRONG).status_code == 422  # the fifth wrong one
    assert change_password(client, owner.password).status_code == 429


def test_wrong_2fa_codes_spend_the_same_budget(app, client, owner):
    login(client)
    secret, _ = enable_2fa(app, client)
    limiter.reset()
    token = csrf_token(client, "/account/security")
    for _ in range(3):
        response = client.post("/account/security/2fa/disable", data={"code": wrong_totp(secret), "csrf_token": token})
        assert response.status_code == 422
    assert reauthenticate(client, WRONG).status_code == 422
    assert change_email(client, WRONG).status_code == 422

    assert reauthenticate(client, owner.password).status_code == 429
    response = client.post("/account/security/2fa/disable", data={"code": wrong_totp(secret), "csrf_token": token})
    assert response.status_code == 429


def test_another_account_keeps_its_own_budget(app, client, owner):
    login(client)
    for _ in range(5):
        change_password(client, WRONG)
    other = make_owner(app, email="someone@example.com")
    assert login(app.test_client(), other.email, other.password).location == "/"
