"""Staff members for admin tests: made with the roles' privileges (and 2FA on, unless
`with_2fa=False`), signed in through the real forms (password, then a TOTP code)."""

from __future__ import annotations

from dataclasses import dataclass

import pyotp

from app.core.types import utcnow
from app.extensions import db
from app.staff.models import Staff, StaffRole
from app.staff.services import create_staff, seal_staff_totp_secret
from tests.helpers import csrf_token

STAFF_PASSWORD = "staff-password-1"
STAFF_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@dataclass(frozen=True)
class StaffAccount:
    id: int
    email: str
    password: str = STAFF_PASSWORD
    totp_secret: str | None = STAFF_TOTP_SECRET


def make_staff(
    app,
    *privileges: str,
    email: str = "clerk@example.com",
    superuser: bool = False,
    name: str = "Casey Clerk",
    with_2fa: bool = True,
) -> StaffAccount:
    """A committed staff member holding exactly `privileges` (through a role of their own),
    or all of them with `superuser`; enrolled in TOTP unless `with_2fa=False`."""
    with app.app_context():
        staff = create_staff(email, name, STAFF_PASSWORD, superuser=superuser)
        if privileges:
            role = StaffRole(name=f"role of {email}", privileges=list(privileges))
            staff.roles.append(role)
        if with_2fa:
            seal_staff_totp_secret(staff, STAFF_TOTP_SECRET)
            staff.totp_enabled_at = utcnow()
        db.session.commit()
        return StaffAccount(staff.id, staff.email, totp_secret=STAFF_TOTP_SECRET if with_2fa else None)


def forget_last_code(app, staff: StaffAccount) -> None:
    """Let the current TOTP code be used again (a test signs in more than once within 30 s)."""
    with app.app_context():
        db.session.get(Staff, staff.id).totp_last_step = None
        db.session.commit()


def sign_in_staff(client, staff: StaffAccount, *, next: str | None = None):
    """Sign `staff` in through /admin/login (and /admin/login/code when asked); returns the last response."""
    query = f"?next={next}" if next else ""
    token = csrf_token(client, "/admin/login" + query)
    response = client.post(
        "/admin/login" + query, data={"email": staff.email, "password": staff.password, "csrf_token": token}
    )
    if staff.totp_secret is None or not (response.location or "").startswith("/admin/login/code"):
        return response
    forget_last_code(client.application, staff)
    token = csrf_token(client, response.location)
    return client.post(response.location, data={"code": pyotp.TOTP(staff.totp_secret).now(), "csrf_token": token})
