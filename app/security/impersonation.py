"""Login as client (staff support access): starting one, and which client-area pages it
may never reach. The session side (whom the browser is while it lasts) is in
app.security.signin; the per-request checks in app.access.guard."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app

from app.audit.services import record
from app.clients.models import Client
from app.core.actors import Actor
from app.core.errors import Conflict, ValidationError
from app.core.i18n import _
from app.core.types import utcnow
from app.extensions import db
from app.notify.services import queue_email
from app.staff.models import Impersonation, Staff
from app.staff.privileges import LOGIN_AS_CLIENT

#: The durations offered (minutes), cut at IMPERSONATION_MAX_MINUTES.
DURATIONS = (15, 30, 60, 120)


def durations() -> list[int]:
    """The durations a staff member may choose, in minutes (never above the configured maximum)."""
    maximum = current_app.config["IMPERSONATION_MAX_MINUTES"]
    return [minutes for minutes in DURATIONS if minutes <= maximum] or [maximum]


def start_impersonation(staff: Staff, client: Client, *, reason: str, minutes: int, actor: Actor) -> Impersonation:
    """Open a support access to `client`'s area as its owner for `minutes`, audited, and
    (per IMPERSONATION_NOTIFY_OWNER) the owner emailed through the outbox. Flushes.

    Raises ValidationError (no reason, a duration not offered) or Conflict (the client has
    no owner who could sign in)."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError(_("Say why you need to sign in as this client."), field="reason")
    if len(reason) > 500:
        raise ValidationError(_("Keep the reason under 500 characters."), field="reason")
    if minutes not in durations():
        raise ValidationError(_("Choose one of the durations offered."), field="minutes")
    if not staff.has_privilege(LOGIN_AS_CLIENT):
        raise Conflict(_("You may not sign in as a client."))
    owner = client.owner
    if owner is None or not owner.is_active:
        raise Conflict(_("This client has no active owner to sign in as."))
    now = utcnow()
    impersonation = Impersonation(
        staff_id=staff.id,
        client_id=client.id,
        user_id=owner.id,
        reason=reason,
        started_at=now,
        ends_at=now + timedelta(minutes=minutes),
        ip=actor.ip,
    )
    db.session.add(impersonation)
    db.session.flush()
    record(
        actor,
        "impersonation.start",
        client_id=client.id,
        target=f"impersonation:{impersonation.id}",
        new=f"{minutes} min as {owner.email}: {reason}",
    )
    if current_app.config["IMPERSONATION_NOTIFY_OWNER"]:
        queue_email(
            "support_access",
            to=owner,
            client=client,
            staff_name=staff.name,
            reason=reason,
            ends_at=impersonation.ends_at,
        )
    return impersonation
