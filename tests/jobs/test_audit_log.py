"""The audit log is append-only: the database itself refuses to change or delete an entry."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEntry
from app.audit.services import record
from app.core.actors import Actor
from app.extensions import db


def _entry(app) -> int:
    with app.app_context():
        entry = record(
            Actor("staff", 7, "203.0.113.9"), "client.edit", client_id=3, target="client:3", old="A", new="B"
        )
        db.session.commit()
        return entry.id


def test_an_entry_records_who_what_on_which_client_old_new_and_from_where(app):
    entry_id = _entry(app)
    with app.app_context():
        entry = db.session.get(AuditEntry, entry_id)
        assert (entry.actor_kind, entry.actor, entry.action) == ("staff", "staff:7", "client.edit")
        assert (entry.client_id, entry.target, entry.old_value, entry.new_value) == (3, "client:3", "A", "B")
        assert entry.ip == "203.0.113.9" and entry.created_at is not None


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_log SET new_value = 'forged' WHERE id = :id", "DELETE FROM audit_log WHERE id = :id"],
    ids=["update", "delete"],
)
def test_the_database_refuses_to_change_or_delete_an_entry(app, statement):
    entry_id = _entry(app)
    with app.app_context():
        with pytest.raises(sa.exc.DatabaseError, match="the audit log is append-only"):
            db.session.execute(sa.text(statement), {"id": entry_id})
        db.session.rollback()
        entry = db.session.get(AuditEntry, entry_id)
        assert entry is not None and entry.new_value == "B"
