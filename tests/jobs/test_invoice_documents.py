"""Tax invoices: issued on full payment, numbered gaplessly, never changed."""

from __future__ import annotations

import threading
from datetime import date

import pytest
import sqlalchemy as sa

from app.clients.models import Client, ClientKind
from app.core.errors import DomainError
from app.extensions import db
from app.hosting.models import Service, ServiceStatus
from app.invoices.guards import ImmutableInvoice
from app.invoices.models import DocumentKind, Invoice, InvoiceLine, InvoiceStatus, ProformaOrigin
from app.invoices.services import (
    BuyerDetails,
    InvoiceNotPayable,
    LineSpec,
    create_proforma,
    issue_credit_note,
    record_payment,
    update_billing_details,
)
from tests.helpers import make_owner, make_proforma, make_service, pay


def by_number(number: str) -> Invoice:
    return db.session.scalar(sa.select(Invoice).where(Invoice.number == number))


def test_full_payment_issues_a_tax_invoice_with_a_snapshot(app, owner):
    number = make_proforma(app, owner.client_id, 1000)
    with app.app_context():
        proforma = by_number(number)
        assert record_payment(proforma.id, 500) is None, "a partial payment issues nothing"
        assert proforma.status is InvoiceStatus.UNPAID and proforma.balance_due_minor == 710
        tax_invoice = record_payment(proforma.id, 710)
        db.session.commit()

        assert tax_invoice.number == f"F-{tax_invoice.paid_at.year}-000001"
        assert proforma.status is InvoiceStatus.PAID
        assert tax_invoice.source_id == proforma.id
        assert (tax_invoice.total_minor, tax_invoice.buyer_name) == (1210, "Ion Ionescu")
        assert [line.description for line in tax_invoice.lines] == ["Web hosting"]
        with pytest.raises(InvoiceNotPayable):
            record_payment(proforma.id, 1)


@pytest.mark.parametrize(
    ("zone", "issued", "number"),
    [("Europe/Bucharest", date(2027, 1, 1), "F-2027-000001"), ("UTC", date(2026, 12, 31), "F-2026-000001")],
)
def test_a_tax_invoice_carries_the_sellers_calendar_day(app, owner, zone, issued, number):
    from datetime import UTC, datetime

    app.config["BILLING_TIMEZONE"] = zone
    proforma_number = make_proforma(app, owner.client_id, 1000)
    with app.app_context():
        # 23:30 UTC on New Year's Eve is already 01:30 on 1 January in Bucharest.
        tax_invoice = record_payment(
            by_number(proforma_number).id, 1210, paid_at=datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
        )
        db.session.commit()
        assert (tax_invoice.issue_date, tax_invoice.number) == (issued, number)


def test_paying_a_renewal_extends_and_unsuspends_the_service_once(app, owner):
    from app.billing.run import run_billing

    service_id = make_service(app, owner.client_id, due=date(2026, 12, 10), status="suspended")
    with app.app_context():
        db.session.get(Service, service_id).suspension_reason = "overdue"
        db.session.commit()
        [proforma_id] = run_billing(date(2026, 12, 1)).proforma_ids
        proforma = db.session.get(Invoice, proforma_id)
        record_payment(proforma_id, proforma.total_minor)
        db.session.commit()
        service = db.session.get(Service, service_id)
        assert service.status is ServiceStatus.ACTIVE
        assert service.next_due_date == date(2027, 1, 10)


def test_tax_invoice_cannot_be_changed_through_the_service(app, owner):
    tax_number = pay(app, make_proforma(app, owner.client_id))
    with app.app_context(), pytest.raises(ImmutableInvoice):
        update_billing_details(
            by_number(tax_number), BuyerDetails(kind=ClientKind.PERSON, name="Someone Else", country="RO")
        )


@pytest.mark.parametrize("change", ["total", "buyer", "line", "delete", "delete_line", "add_line"])
def test_tax_invoice_cannot_be_changed_through_the_orm(app, owner, change):
    tax_number = pay(app, make_proforma(app, owner.client_id))
    with app.app_context():
        tax_invoice = by_number(tax_number)
        if change == "total":
            tax_invoice.total_minor += 1
        elif change == "buyer":
            tax_invoice.buyer_name = "Someone Else"
        elif change == "line":
            tax_invoice.lines[0].description = "changed"
        elif change == "delete":
            db.session.delete(tax_invoice)
        elif change == "delete_line":
            db.session.delete(tax_invoice.lines[0])
        else:
            tax_invoice.lines.append(InvoiceLine(position=9, description="x", unit_price_minor=1, amount_minor=1))
        with pytest.raises(ImmutableInvoice):
            db.session.flush()
        db.session.rollback()
        assert by_number(tax_number).buyer_name == "Ion Ionescu"


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE invoices SET total_minor = 1, subtotal_minor = 1, tax_minor = 0 WHERE kind = 'tax_invoice'",
        "DELETE FROM invoice_lines WHERE invoice_id IN (SELECT id FROM invoices WHERE kind = 'tax_invoice')",
        "UPDATE invoice_lines SET description = 'x' "
        "WHERE invoice_id IN (SELECT id FROM invoices WHERE kind = 'tax_invoice')",
        "DELETE FROM invoices WHERE kind = 'tax_invoice'",
        "UPDATE invoices SET line_count = 5 WHERE kind = 'tax_invoice'",
        # Moving a proforma's line into the tax invoice.
        "UPDATE invoice_lines SET invoice_id = (SELECT id FROM invoices WHERE kind = 'tax_invoice') "
        "WHERE invoice_id = (SELECT id FROM invoices WHERE kind = 'proforma')",
        "INSERT INTO invoice_lines (invoice_id, position, description, quantity, unit_price_minor, amount_minor) "
        "SELECT id, 9, 'added later', 1, 100, 100 FROM invoices WHERE kind = 'tax_invoice'",
    ],
)
def test_tax_invoice_cannot_be_changed_by_raw_sql(app, owner, statement):
    tax_number = pay(app, make_proforma(app, owner.client_id))
    with app.app_context():
        with pytest.raises(sa.exc.DatabaseError, match="tax documents are immutable"):
            db.session.execute(sa.text(statement))
        db.session.rollback()
        assert by_number(tax_number).total_minor == 1210
        # Proformas stay editable at the SQL level.
        db.session.execute(sa.text("UPDATE invoices SET buyer_city = 'Iasi' WHERE kind = 'proforma'"))
        db.session.commit()


def test_a_tax_document_is_issued_with_all_its_lines_and_accepts_no_more(app, owner):
    with app.app_context():
        lines = [LineSpec("Web hosting", 1000), LineSpec("Domain", 500), LineSpec("SSL", 300)]
        proforma = create_proforma(
            db.session.get(Client, owner.client_id),
            lines,
            origin=ProformaOrigin.ORDER,
            issue_date=date(2026, 11, 1),
            due_date=date(2026, 11, 8),
        )
        db.session.commit()
        tax_invoice = record_payment(proforma.id, proforma.total_minor)
        note = issue_credit_note(tax_invoice, reason="refund")
        db.session.commit()
        assert (tax_invoice.line_count, len(tax_invoice.lines)) == (3, 3)
        assert (note.line_count, [line.amount_minor for line in note.lines]) == (3, [-1000, -500, -300])

        # A proforma takes lines at the SQL level; a tax document or credit note does not.
        insert = sa.text(
            "INSERT INTO invoice_lines (invoice_id, position, description, quantity, unit_price_minor, amount_minor)"
            " VALUES (:id, 9, 'added later', 1, 100, 100)"
        )
        db.session.execute(insert, {"id": proforma.id})
        for document in (tax_invoice, note):
            with pytest.raises(sa.exc.DatabaseError, match="tax documents are immutable"), db.session.begin_nested():
                db.session.execute(insert, {"id": document.id})
        db.session.rollback()
        counts = db.session.execute(
            sa.select(InvoiceLine.invoice_id, sa.func.count()).group_by(InvoiceLine.invoice_id)
        ).all()
        assert dict(counts) == {proforma.id: 3, tax_invoice.id: 3, note.id: 3}


def test_a_tax_invoice_is_credited_at_most_once_in_full(app, owner):
    tax_number = pay(app, make_proforma(app, owner.client_id, 1000))
    with app.app_context():
        issue_credit_note(by_number(tax_number), reason="refund")
        with pytest.raises(DomainError, match="already fully credited"):
            issue_credit_note(by_number(tax_number), reason="again")


def test_a_free_proforma_is_settled_at_once(app, owner):
    with app.app_context():
        client = db.session.get(Client, owner.client_id)
        proforma = create_proforma(
            client,
            [LineSpec("Free plan", 0)],
            origin=ProformaOrigin.ORDER,
            issue_date=date(2026, 11, 1),
            due_date=date(2026, 11, 1),
        )
        db.session.commit()
        assert proforma.status is InvoiceStatus.PAID
        assert db.session.scalar(sa.select(Invoice).where(Invoice.source_id == proforma.id)).total_minor == 0


def test_billing_details_of_a_paid_proforma_are_refused(app, owner):
    number = make_proforma(app, owner.client_id)
    pay(app, number)
    with app.app_context(), pytest.raises(InvoiceNotPayable):
        update_billing_details(by_number(number), BuyerDetails(kind=ClientKind.PERSON, name="X", country="RO"))


def test_corrections_are_credit_notes(app, owner):
    tax_number = pay(app, make_proforma(app, owner.client_id, 1000))
    with app.app_context():
        note = issue_credit_note(by_number(tax_number), reason="service not delivered")
        db.session.commit()
        assert note.number.startswith("CN-") and note.kind is DocumentKind.CREDIT_NOTE
        assert (note.total_minor, note.source.number) == (-1210, tax_number)
        assert note.lines[0].amount_minor == -1000
        assert by_number(tax_number).total_minor == 1210


@pytest.mark.postgresql
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite has a single writer
def test_numbers_are_gapless_and_unique_under_concurrent_payments(app, owner):
    """Eight threads pay eight proformas at once; one of them fails after taking
    its number. The numbers used are exactly 1..7, each once."""
    # One client per proforma: the client lock must not be what serializes them.
    numbers = [make_proforma(app, make_owner(app, email=f"c{i}@example.com").client_id, 1000 + i) for i in range(8)]
    start = threading.Barrier(len(numbers))
    results: dict[str, str] = {}
    errors: list[BaseException] = []

    def pay_one(number: str, fail: bool) -> None:
        with app.app_context():
            try:
                proforma = by_number(number)
                start.wait()
                tax_invoice = record_payment(proforma.id, proforma.total_minor)
                if fail:
                    raise RuntimeError("card capture failed after numbering")
                db.session.commit()
                results[number] = tax_invoice.number
            except RuntimeError:
                db.session.rollback()
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)
                db.session.rollback()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=pay_one, args=(n, i == 3)) for i, n in enumerate(numbers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    year = date.today().year
    assert sorted(results.values()) == [f"F-{year}-{n:06d}" for n in range(1, 8)]
    with app.app_context():
        issued = db.session.scalars(sa.select(Invoice.number).where(Invoice.kind == DocumentKind.TAX_INVOICE)).all()
        assert sorted(issued) == sorted(results.values())
