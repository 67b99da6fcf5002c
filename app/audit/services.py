"""Writing the audit log. Every staff action calls `record` inside its own transaction,
so the entry and the change commit (or roll back) together."""

from __future__ import annotations

from app.audit.models import AuditEntry
from app.core.actors import Actor
from app.extensions import db


def _text(value) -> str | None:
    return None if value is None else str(value)


def record(
    actor: Actor,
    action: str,
    *,
    client_id: int | None = None,
    target: str | None = None,
    old=None,
    new=None,
) -> AuditEntry:
    """Append one entry: `actor` did `action` (on `target`, of client `client_id`), `old` -> `new`."""
    entry = AuditEntry(
        actor_kind=actor.kind,
        actor=str(actor),
        action=action,
        client_id=client_id,
        target=target,
        old_value=_text(old),
        new_value=_text(new),
        ip=actor.ip,
    )
    db.session.add(entry)
    db.session.flush()
    return entry
