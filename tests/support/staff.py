"""Staff members for admin tests: made with the roles' privileges, signed in through the real form."""

from __future__ import annotations

from dataclasses import dataclass

from app.extensions import db
from app.staff.models import StaffRole
from app.staff.services import create_staff
from tests.helpers import csrf_token

STAFF_PASSWORD = "staff-password-1"


@dataclass(frozen=True)
class StaffAccount:
    id: int
    email: str
    password: str = STAFF_PASSWORD


def make_staff(
    app, *privileges: str, email: str = "clerk@example.com", superuser: bool = False, name: str = "Casey Clerk"
) -> StaffAccount:
    """A committed staff member holding exactly `privileges` (through a role of their own),
    or all of them with `superuser`."""
    with app.app_context():
        staff = create_staff(email, name, STAFF_PASSWORD, superuser=superuser)
        if privileges:
            role = StaffRole(name=f"role of {email}", privileges=list(privileges))
            staff.roles.append(role)
        db.session.commit()
        return StaffAccount(staff.id, staff.email)


def sign_in_staff(client, staff: StaffAccount, *, next: str | None = None):
    """Sign `staff` in through /admin/login; returns the last response."""
    url = "/admin/login" + (f"?next={next}" if next else "")
    token = csrf_token(client, url)
    return client.post(url, data={"email": staff.email, "password": staff.password, "csrf_token": token})
