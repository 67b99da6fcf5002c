"""The client's lifecycle services: close, anonymize, merge and delete, checked against
every table of the schema (db.metadata), so a table added later is covered too."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from app.approvals import services as approvals
from app.casework.models import ClientFile, ClientNote
from app.clients.models import Client, ClientStatus, User, UserRole
from app.core.actors import Actor
from app.core.errors import Conflict, ValidationError
from app.extensions import db
from app.hosting.models import Service, ServiceGroup, ServiceStatus
from app.invoices.models import TAX_DOCUMENTS, Invoice, InvoiceStatus
from app.lifecycle import services as lifecycle
from app.staff import privileges as P
from app.wallet.models import LedgerEntry
from app.wallet.services import balance_mismatches
from tests.helpers import balance, credit, make_proforma, make_service, pay
from tests.support.client_profile import fill_client
from tests.support.sms import PHONE
from tests.support.staff import make_staff

STAFF = Actor("staff", 1, "192.0.2.10")


def _rows_on(column, client_id: int) -> list:
    return db.session.execute(sa.select(column.table).where(column == client_id)).all()


def _snapshot(rows) -> list[tuple]:
    """The rows as tuples, by id (their first column): a query without ORDER BY has no order."""
    return sorted((tuple(row) for row in rows), key=lambda row: row[0])


def test_merge_moves_every_row_with_a_client_key_but_the_tax_documents_and_the_ledger(app, owner, other):
    make_service(app, owner.client_id, due=date(2026, 12, 20), label="target.example", group="Zebra")
    fill_client(app, other.client_id, other.user_id, "Zebra")  # the same group name on both
    credit(app, other.client_id, 3000)
    credit(app, owner.client_id, 500)
    before = balance(app, owner.client_id) + balance(app, other.client_id)
    with app.app_context():
        source_tax_docs = _snapshot(
            db.session.execute(
                sa.select(Invoice.__table__).where(
                    Invoice.client_id == other.client_id, Invoice.kind.in_(TAX_DOCUMENTS)
                )
            )
        )
        assert source_tax_docs
        lifecycle.merge_clients(other.client_id, owner.client_id, actor=STAFF)
        db.session.commit()

    with app.app_context():
        for column in lifecycle.client_foreign_keys():
            left = _rows_on(column, other.client_id)
            if column.table.name == "invoices":
                # Tax invoices and credit notes stay on the tombstone, unchanged.
                assert _snapshot(left) == source_tax_docs
            elif column.table.name == "ledger_entries":
                assert left and sum(row.amount_minor for row in left) == 0  # its history, balance moved out
            else:
                assert left == [], f"{column.table.name}.{column.name} still has rows of the source"
        source = db.session.get(Client, other.client_id)
        assert source.merged_into_id == owner.client_id and source.status is ClientStatus.CLOSED
        assert source.balance_minor == 0
        assert balance_mismatches() == []
        # The owner of the source is now a trusted user of the target, which keeps one owner.
        roles = {u.email: u.role for u in db.session.scalars(sa.select(User).where(User.client_id == owner.client_id))}
        assert roles[other.email] is UserRole.TRUSTED and roles[owner.email] is UserRole.OWNER
        assert [r for r in roles.values() if r is UserRole.OWNER] == [UserRole.OWNER]
        # Two groups of the same name became one.
        groups = db.session.scalars(sa.select(ServiceGroup).where(ServiceGroup.client_id == owner.client_id)).all()
        assert [g.name for g in groups] == ["Zebra"]
        assert lifecycle.tombstone_documents(owner.client_id)
        assert [c.id for c in lifecycle.merged_sources(owner.client_id)] == [other.client_id]
    assert balance(app, owner.client_id) == before
    result = app.test_cli_runner().invoke(args=["wallet", "verify"])
    assert result.exit_code == 0, result.output


def test_merge_is_refused_between_currencies_itself_and_a_tombstone(app, owner, other):
    credit(app, other.client_id, 1000)
    with app.app_context():
        db.session.get(Client, owner.client_id).currency = "USD"
        db.session.commit()
        with pytest.raises(ValidationError, match="same currency"):
            lifecycle.merge_clients(other.client_id, owner.client_id, actor=STAFF)
        db.session.rollback()
        with pytest.raises(ValidationError, match="itself"):
            lifecycle.merge_clients(owner.client_id, owner.client_id, actor=STAFF)
        db.session.rollback()
    assert balance(app, other.client_id) == 1000
    with app.app_context():
        assert db.session.get(Client, other.client_id).merged_into_id is None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.client_id == other.client_id))


def _linked_text(client_id: int, user_ids: list[int]) -> list[tuple[str, str, str]]:
    """(table, column, value) of every text or JSON value in every row linked to the client
    (by a client or user key), tax documents left out."""
    found = []
    clients, users = db.metadata.tables["clients"], db.metadata.tables["users"]
    for table in db.metadata.sorted_tables:
        conditions = []
        if table is clients:
            conditions.append(table.c.id == client_id)
        if table is users:
            conditions.append(table.c.id.in_(user_ids))
        for fk in table.foreign_keys:
            if fk.column.table is clients:
                conditions.append(fk.parent == client_id)
            elif fk.column.table is users:
                conditions.append(fk.parent.in_(user_ids))
        if table.name == "audit_log":
            conditions.append(table.c.client_id == client_id)
        if not conditions:
            continue
        query = sa.select(table).where(sa.or_(*conditions))
        if table.name == "invoices":
            query = query.where(table.c.kind.not_in([kind.value for kind in TAX_DOCUMENTS]))
        for row in db.session.execute(query).mappings():
            for name, value in row.items():
                if isinstance(value, str | list | dict):
                    found.append((table.name, name, str(value)))
    return found


@pytest.mark.owner(phone=PHONE, sms_opt_in=True)
def test_anonymize_leaves_tax_invoices_intact_and_the_name_email_and_phone_nowhere_else(app, owner):
    fill_client(app, owner.client_id, owner.user_id, "Filler")
    with app.app_context():
        client = db.session.get(Client, owner.client_id)
        personal = {client.name, client.owner.name, owner.email, PHONE}
        tax_docs = _snapshot(
            db.session.execute(
                sa.select(Invoice.__table__).where(Invoice.client_id == client.id, Invoice.kind.in_(TAX_DOCUMENTS))
            )
        )
        user_ids = [u.id for u in client.users]
        assert any(value in text for value in personal for *_, text in _linked_text(client.id, user_ids))
        ledger = _snapshot(db.session.execute(sa.select(LedgerEntry.__table__)))
        lifecycle.anonymize_client(client.id, actor=STAFF)
        db.session.commit()

    with app.app_context():
        leaks = [
            (table, column)
            for table, column, text in _linked_text(owner.client_id, user_ids)
            for value in personal
            if value in text
        ]
        assert leaks == []
        kept = _snapshot(
            db.session.execute(
                sa.select(Invoice.__table__).where(
                    Invoice.client_id == owner.client_id, Invoice.kind.in_(TAX_DOCUMENTS)
                )
            )
        )
        assert kept == tax_docs and any(owner_name in str(row) for row in kept for owner_name in personal)
        assert _snapshot(db.session.execute(sa.select(LedgerEntry.__table__))) == ledger
        client = db.session.get(Client, owner.client_id)
        assert client.status is ClientStatus.ANONYMIZED
        emails = {u.email for u in client.users}
        assert len(emails) == len(client.users)  # a placeholder unique per row
        assert not any(u.is_active for u in client.users)
        # Staff's notes keep their place in the timeline, not their text; files are gone.
        notes = db.session.scalars(sa.select(ClientNote.body).where(ClientNote.client_id == client.id)).all()
        assert notes and set(notes) == {"(removed: account anonymized)"}
        assert db.session.scalar(sa.select(sa.func.count()).where(ClientFile.client_id == client.id)) == 0
        with pytest.raises(Conflict):
            lifecycle.anonymize_client(client.id, actor=STAFF)
    assert app.test_cli_runner().invoke(args=["wallet", "verify"]).exit_code == 0


def test_delete_refuses_a_client_with_tax_invoices_and_deletes_one_without(app, owner, other):
    pay(app, make_proforma(app, owner.client_id, 1200))
    with app.app_context():
        with pytest.raises(Conflict, match="anonymize instead"):
            lifecycle.delete_client(owner.client_id, actor=STAFF)
        db.session.rollback()
        assert db.session.get(Client, owner.client_id) is not None

    make_service(app, other.client_id, due=date(2026, 12, 20), group="Sites")
    make_proforma(app, other.client_id, 900)
    with app.app_context():
        assert len(lifecycle.owned_rows(other.client_id)) >= 5
        lifecycle.delete_client(other.client_id, actor=STAFF)
        db.session.commit()
    with app.app_context():
        assert db.session.get(Client, other.client_id) is None
        for column in lifecycle.client_foreign_keys():
            assert _rows_on(column, other.client_id) == [], column.table.name
        assert db.session.get(Client, owner.client_id) is not None  # the other client untouched


def test_delete_refuses_a_client_with_money_history(app, owner):
    credit(app, owner.client_id, 100)
    with app.app_context(), pytest.raises(Conflict, match="anonymize instead"):
        lifecycle.delete_client(owner.client_id, actor=STAFF)


def test_close_ends_services_and_unpaid_proformas_and_sign_in(app, owner):
    service_id = make_service(app, owner.client_id, due=date(2026, 12, 20))
    number = make_proforma(app, owner.client_id, 700)
    with app.app_context():
        result = lifecycle.close_client(owner.client_id, actor=STAFF, terminate_services=True, cancel_proformas=True)
        db.session.commit()
        assert result.services_ended == [service_id] and len(result.proformas_cancelled) == 1
    with app.app_context():
        client = db.session.get(Client, owner.client_id)
        assert client.status is ClientStatus.CLOSED
        assert not client.owner.is_active
        assert db.session.get(Service, service_id).status is ServiceStatus.TERMINATED
        assert db.session.scalar(sa.select(Invoice.status).where(Invoice.number == number)) is InvoiceStatus.CANCELLED
        with pytest.raises(Conflict):
            lifecycle.close_client(owner.client_id, actor=STAFF)
        db.session.rollback()
        lifecycle.archive_client(owner.client_id, actor=STAFF)
        lifecycle.reopen_client(owner.client_id, actor=STAFF)
        db.session.commit()
        assert db.session.get(Client, owner.client_id).owner.is_active


def test_merge_waits_for_a_second_staff_member_and_refuses_a_source_with_pending_requests(app, owner, other):
    first = make_staff(app, P.CLOSE_CLIENTS, email="first@example.com")
    second = make_staff(app, P.CLOSE_CLIENTS, email="second@example.com")
    credit(app, other.client_id, 700)
    with app.app_context(), pytest.raises(Conflict, match="anonymize instead"):
        lifecycle.request_delete(other.client_id, reason="no", actor=Actor("staff", first.id))  # money history
    with app.app_context():
        delete = approvals.submit(
            "client.delete",
            {"client_id": other.client_id},
            client_id=other.client_id,
            amount_minor=None,
            currency=None,
            summary="x",
            reason="y",
            actor=Actor("staff", first.id),
        )
        db.session.commit()
        with pytest.raises(Conflict, match="waiting for approval"):
            lifecycle.request_merge(other.client_id, owner.client_id, reason="Same", actor=Actor("staff", first.id))
        db.session.rollback()
        approvals.reject(delete.id, Actor("staff", second.id), "not now")
        request = lifecycle.request_merge(
            other.client_id, owner.client_id, reason="Same", actor=Actor("staff", first.id)
        )
        db.session.commit()
        assert db.session.get(Client, other.client_id).merged_into_id is None  # nothing moved yet
        with pytest.raises(Conflict):
            approvals.approve(request.id, Actor("staff", first.id))  # not the requester
        db.session.rollback()
        approvals.approve(request.id, Actor("staff", second.id))
        db.session.commit()
        assert db.session.get(Client, other.client_id).merged_into_id == owner.client_id
    assert balance(app, owner.client_id) == 700
