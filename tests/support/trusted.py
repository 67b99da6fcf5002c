"""Trusted users of a client, two ways (both through tests/factories.py):

- `make_trusted`: the way an owner adds one, through `add_trusted_user`
  (Maria Popescu, password TRUSTED_PASSWORD unless told);
- `add_trusted` and `add_notified`: a plain trusted user row, with the
  permissions (and notification types, phone, SMS opt-in) a test needs.
"""

from __future__ import annotations

from app.extensions import db
from tests import factories

TRUSTED_PASSWORD = "trusted-pass-42"


def make_trusted(
    app,
    client_id: int,
    email: str = "maria@example.com",
    permissions=(),
    notification_types=(),
    password=TRUSTED_PASSWORD,
) -> int:
    """A committed trusted user of `client_id`, made through the service; returns its id."""
    with app.app_context():
        user = factories.TrustedServiceUserFactory(
            client_id=client_id,
            email=email,
            password=password,
            permissions=list(permissions),
            notification_types=list(notification_types),
        )
        db.session.commit()
        return user.id


def add_trusted(app, client_id: int, permissions: list[str], email: str) -> None:
    """A committed trusted user row ("Trusted Person") with these permissions."""
    with app.app_context():
        factories.TrustedUserFactory(client_id=client_id, email=email, permissions=permissions)
        db.session.commit()


def add_notified(app, client_id, email, permissions, types, phone=None, sms=False) -> int:
    """A committed trusted user row ("Trusted") with permissions, notification types
    and, given a phone, an SMS opt-in; returns its id."""
    with app.app_context():
        user = factories.TrustedUserFactory(
            client_id=client_id,
            email=email,
            name="Trusted",
            permissions=permissions,
            notification_types=types,
            phone=phone,
            sms_opt_in=sms,
        )
        db.session.commit()
        return user.id
