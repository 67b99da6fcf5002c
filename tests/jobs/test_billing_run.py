"""The billing run over services across the edge dates, twice."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.billing.run import create_renewal_proformas, run_billing
from app.clients.models import Client, ClientStatus, User
from app.extensions import db
from app.hosting.models import Service, ServiceStatus
from app.invoices.models import Invoice, InvoiceLine, InvoiceStatus, QueuedItem
from app.invoices.services import record_payment
from tests.helpers import make_owner, make_service
from tests.support.billing import make_order

RUN = date(2026, 12, 1)  # renewal 14 days before due, suspend 5 days after, terminate 30 days after


def days(n: int) -> date:
    return RUN + timedelta(days=n)


@pytest.fixture
def fixture_services(app):
    a = make_owner(app, email="a@example.com").client_id
    b = make_owner(app, email="b@example.com").client_id
    closed = make_owner(app, email="closed@example.com").client_id
    with app.app_context():
        client_b = db.session.get(Client, b)
        client_b.renewal_days_before, client_b.suspend_days_after = 30, 0
        db.session.get(Client, closed).status = ClientStatus.CLOSED
        db.session.add(QueuedItem(client_id=a, description="Extra IP address", amount_minor=300))
        db.session.commit()
    s = {
        "edge_renew": make_service(app, a, due=days(14), label="edge.ro", group="Shop"),
        "same_day": make_service(app, a, due=days(14), label="same-day.ro", group="Shop"),
        "too_early": make_service(app, a, due=days(15), label="early.ro"),
        "other_day": make_service(app, a, due=days(10), label="other-day.ro"),
        "edge_suspend": make_service(app, a, due=days(-5), label="late.ro"),
        "not_yet_suspend": make_service(app, a, due=days(-4), label="almost-late.ro"),
        "edge_terminate": make_service(app, a, due=days(-30), status="suspended", label="gone.ro"),
        "not_yet_terminate": make_service(app, a, due=days(-29), status="suspended", label="almost-gone.ro"),
        "terminated": make_service(app, a, due=days(1), status="terminated", label="old.ro"),
        "pending": make_service(app, a, due=None, status="pending", label="new.ro"),
        "b_override_renew": make_service(app, b, due=days(30), label="b-renew.ro"),
        "b_override_early": make_service(app, b, due=days(31), label="b-early.ro"),
        "b_suspend_same_day": make_service(app, b, due=days(0), label="b-today.ro"),
        "closed_client": make_service(app, closed, due=days(1), label="closed.ro"),
    }
    return {"a": a, "b": b, "closed": closed, **s}


def renewed(app) -> dict[int, set[str]]:
    """Service labels per renewal proforma id."""
    with app.app_context():
        rows = db.session.execute(
            sa.select(InvoiceLine.invoice_id, Service.label)
            .join(Service, Service.id == InvoiceLine.service_id)
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(Invoice.origin == "renewal")
        ).all()
    grouped: dict[int, set[str]] = {}
    for invoice_id, label in rows:
        grouped.setdefault(invoice_id, set()).add(label)
    return grouped


def statuses(app) -> dict[str, str]:
    with app.app_context():
        return {label: status.value for label, status in db.session.execute(sa.select(Service.label, Service.status))}


def test_billing_run_creates_exactly_the_expected_renewals_and_suspensions(app, fixture_services):
    with app.app_context():
        result = run_billing(RUN)

    assert sorted(map(sorted, renewed(app).values())) == sorted(
        [
            ["edge.ro", "same-day.ro"],  # one proforma per client and due date
            ["other-day.ro"],
            ["late.ro"],  # overdue and never invoiced: invoiced now, and suspended
            ["almost-late.ro"],
            ["almost-gone.ro"],  # suspended but not terminated: still payable
            ["b-renew.ro"],  # client override: 30 days before
            ["b-today.ro"],
        ]
    )
    assert len(result.proforma_ids) == 7
    assert statuses(app) == {
        "edge.ro": "active",
        "same-day.ro": "active",
        "early.ro": "active",
        "other-day.ro": "active",
        "late.ro": "suspended",
        "almost-late.ro": "active",
        "gone.ro": "terminated",
        "almost-gone.ro": "suspended",
        "old.ro": "terminated",
        "new.ro": "pending",
        "b-renew.ro": "active",
        "b-early.ro": "active",
        "b-today.ro": "suspended",  # client override: suspended on the due date
        "closed.ro": "active",  # closed clients are not billed
    }


def test_second_run_for_the_same_date_changes_nothing(app, fixture_services):
    with app.app_context():
        run_billing(RUN)
        before = (renewed(app), statuses(app), db.session.scalar(sa.select(sa.func.count(Invoice.id))))
        again = run_billing(RUN)
        after = (renewed(app), statuses(app), db.session.scalar(sa.select(sa.func.count(Invoice.id))))
    assert (again.proforma_ids, again.suspended_ids, again.terminated_ids) == ([], [], [])
    assert before == after


def test_renewal_proforma_content(app, fixture_services):
    with app.app_context():
        run_billing(RUN)
        proforma = db.session.scalar(
            sa.select(Invoice)
            .join(InvoiceLine)
            .where(InvoiceLine.service_id == fixture_services["edge_renew"], Invoice.origin == "renewal")
        )
        assert proforma.status is InvoiceStatus.UNPAID
        assert (proforma.issue_date, proforma.due_date) == (RUN, days(14))
        assert [line.group_name for line in proforma.lines] == ["Shop", "Shop"]
        assert "edge.ro (15.12.2026 - 14.01.2027)" in proforma.lines[0].description
        assert (proforma.subtotal_minor, proforma.tax_minor, proforma.total_minor) == (2000, 420, 2420)
        assert proforma.number.startswith("PF-2026-")
        # The queued item goes on the client's first proforma of the run (earliest due date).
        first = db.session.get(Invoice, db.session.scalar(sa.select(QueuedItem.invoice_id)))
        assert [line.description for line in first.lines][-1] == "Extra IP address"
        assert first.due_date == days(-29) and first.total_minor == 1573  # (1000 + 300) * 1.21


def test_paying_then_running_again_moves_to_the_next_period(app, fixture_services):
    with app.app_context():
        run_billing(RUN)
        [proforma_id] = [i for i, labels in renewed(app).items() if labels == {"late.ro"}]
        record_payment(proforma_id, db.session.get(Invoice, proforma_id).total_minor)
        db.session.commit()
        service = db.session.get(Service, fixture_services["edge_suspend"])
        assert (service.status, service.next_due_date) == (ServiceStatus.ACTIVE, date(2026, 12, 26))
        result = run_billing(date(2026, 12, 12))  # 14 days before the new due date
        assert any(labels == {"late.ro"} for i, labels in renewed(app).items() if i in result.proforma_ids)


def test_termination_cancels_the_unpaid_renewal(app, fixture_services):
    with app.app_context():
        run_billing(RUN)
        [proforma_id] = [i for i, labels in renewed(app).items() if labels == {"almost-gone.ro"}]
        result = run_billing(days(1))
        assert fixture_services["not_yet_terminate"] in result.terminated_ids
        assert db.session.get(Invoice, proforma_id).status is InvoiceStatus.CANCELLED


def test_statement_count_per_batch_does_not_grow_with_clients(app):
    """Set-based: one batch of 3 clients and one of 12 cost the same statements.

    The owners here take no emails: an email is one outbox row per recipient by
    nature (PostgreSQL inserts them in one statement, SQLite one by one), and
    the in-process mail jobs would run inside the measurement.
    """

    def statements_for(n_clients: int, offset: int) -> int:
        for i in range(n_clients):
            owner = make_owner(
                app,
                email=f"c{offset + i}@example.com",
            )
            with app.app_context():
                db.session.get(User, owner.user_id).notification_types = []
                db.session.commit()
            for j in range(3):
                make_service(app, owner.client_id, due=days(3 + j), label=f"s{j}.example.com")
        count = 0

        def tally(*args):
            nonlocal count
            count += 1

        with app.app_context():
            sa.event.listen(db.engine, "before_cursor_execute", tally)
            try:
                ids = create_renewal_proformas(RUN + timedelta(days=offset), batch_clients=1000)
            finally:
                sa.event.remove(db.engine, "before_cursor_execute", tally)
        assert len(ids) == n_clients * 3
        return count

    small = statements_for(3, 0)
    with app.app_context():  # the second run only sees the new clients' services
        db.session.execute(sa.update(Service).values(status=ServiceStatus.TERMINATED))
        db.session.commit()
    large = statements_for(12, 100)
    assert small == large


def test_per_client_termination_override(app):
    owner = make_owner(app)
    service_id = make_service(app, owner.client_id, due=days(-10), status="suspended")
    with app.app_context():
        db.session.get(Client, owner.client_id).terminate_days_after = 10
        db.session.commit()
        assert run_billing(RUN).terminated_ids == [service_id]


def test_queued_items_of_a_cancelled_proforma_wait_for_the_next_one(app):
    owner = make_owner(app)
    make_service(app, owner.client_id, due=days(-29), status="suspended")
    with app.app_context():
        db.session.add(QueuedItem(client_id=owner.client_id, description="Setup fee", amount_minor=500))
        db.session.commit()
        [proforma_id] = run_billing(RUN).proforma_ids
        assert db.session.scalar(sa.select(QueuedItem.invoice_id)) == proforma_id
        run_billing(days(1))  # terminated: the proforma is cancelled
        assert db.session.get(Invoice, proforma_id).status is InvoiceStatus.CANCELLED
        assert db.session.scalar(sa.select(QueuedItem.invoice_id)) is None


def test_a_free_service_renews_without_anything_to_pay(app):
    owner = make_owner(app)
    service_id = make_service(app, owner.client_id, due=days(5), price_minor=0)
    with app.app_context():
        [proforma_id] = run_billing(RUN).proforma_ids
        assert db.session.get(Invoice, proforma_id).status is InvoiceStatus.PAID
        assert db.session.get(Service, service_id).next_due_date == date(2027, 1, 6)


def renew_and_pay(app, service_id: int, times: int) -> list[date]:
    """Run billing just before each due date and pay the renewal; the due dates reached."""
    dues = []
    with app.app_context():
        for _ in range(times):
            due = db.session.get(Service, service_id).next_due_date
            for proforma_id in create_renewal_proformas(due - timedelta(days=5), batch_clients=100):
                record_payment(proforma_id, db.session.get(Invoice, proforma_id).total_minor)
            db.session.commit()
            dues.append(db.session.get(Service, service_id).next_due_date)
    return dues


def test_a_month_end_service_keeps_its_billing_day(app):
    owner = make_owner(app)
    service_id = make_service(app, owner.client_id, due=date(2027, 1, 31))

    assert renew_and_pay(app, service_id, 4) == [
        date(2027, 2, 28),
        date(2027, 3, 31),
        date(2027, 4, 30),
        date(2027, 5, 31),
    ]
    with app.app_context():
        periods = db.session.execute(
            sa.select(InvoiceLine.period_start, InvoiceLine.period_end, InvoiceLine.description)
            .distinct()  # a proforma's lines are copied to its tax invoice
            .where(InvoiceLine.service_id == service_id)
            .order_by(InvoiceLine.period_start)
        ).all()
    assert [(start, end) for start, end, _ in periods[:2]] == [
        (date(2027, 1, 31), date(2027, 2, 28)),
        (date(2027, 2, 28), date(2027, 3, 31)),
    ]
    assert "(28.02.2027 - 30.03.2027)" in periods[1].description


def test_a_leap_day_service_comes_back_to_the_29th(app):
    owner = make_owner(app)
    service_id = make_service(app, owner.client_id, due=date(2027, 2, 28), cycle="annually")
    with app.app_context():
        db.session.get(Service, service_id).billing_day = 29  # ordered on 29 Feb 2024
        db.session.commit()

    assert renew_and_pay(app, service_id, 2) == [date(2028, 2, 29), date(2029, 2, 28)]


def test_an_order_paid_on_the_31st_renews_on_month_ends(app):
    from app.hosting.services import services_paid

    owner = make_owner(app)
    service_id = make_service(app, owner.client_id, due=None, status="pending")
    with app.app_context():
        line = InvoiceLine(service_id=service_id, position=1, description="order", unit_price_minor=0, amount_minor=0)
        services_paid([line], paid_on=date(2027, 1, 31))
        db.session.commit()
        service = db.session.get(Service, service_id)
        assert (service.billing_day, service.next_due_date) == (31, date(2027, 2, 28))
    assert renew_and_pay(app, service_id, 1) == [date(2027, 3, 31)]


def test_a_free_order_is_settled_at_once_and_its_service_starts(app):
    """Invoices only announce the payment (invoice_paid); hosting starts the service, also for nothing to pay."""
    from app.invoices.models import ProformaOrigin
    from app.invoices.services import LineSpec, create_proforma

    owner = make_owner(app)
    service_id = make_service(app, owner.client_id, due=None, status="pending")
    with app.app_context():
        proforma = create_proforma(
            db.session.get(Client, owner.client_id),
            [LineSpec("Free plan", 0, service_id=service_id)],
            origin=ProformaOrigin.ORDER,
            issue_date=RUN,
            due_date=RUN,
        )
        db.session.commit()
        service = db.session.get(Service, service_id)
        assert proforma.status is InvoiceStatus.PAID
        assert (service.status, service.next_due_date is not None) == (ServiceStatus.ACTIVE, True)


def test_hosting_renews_a_paid_invoices_services_before_notify_writes_about_it(app):
    from app.core.events import signal

    handlers = [receiver.__module__ for receiver in signal("invoice_paid").receivers_for(app)]
    assert handlers.index("app.hosting.handlers") < handlers.index("app.notify.handlers")


def test_an_order_nobody_paid_is_cancelled_with_its_services_after_the_grace_days(app):
    owner = make_owner(app)
    run = date(2027, 3, 1)
    old, old_service = make_order(app, owner.client_id, due=run - timedelta(days=30))
    recent, recent_service = make_order(app, owner.client_id, due=run - timedelta(days=29))
    part_paid, part_paid_service = make_order(app, owner.client_id, due=run - timedelta(days=60), paid_minor=500)
    renewal_service = make_service(app, owner.client_id, due=run - timedelta(days=40), status="suspended")

    with app.app_context():
        result = run_billing(run)
        assert result.cancelled_orders == [old]
        status = {i: db.session.get(Invoice, i).status for i in (old, recent, part_paid)}
        assert status == {old: InvoiceStatus.CANCELLED, recent: InvoiceStatus.UNPAID, part_paid: InvoiceStatus.UNPAID}
        services = {s: db.session.get(Service, s).status for s in (old_service, recent_service, part_paid_service)}
        assert services == {
            old_service: ServiceStatus.CANCELLED,
            recent_service: ServiceStatus.PENDING,
            part_paid_service: ServiceStatus.PENDING,  # money was paid on it: staff decide
        }
        assert db.session.get(Service, renewal_service).status is not ServiceStatus.CANCELLED
        assert run_billing(run).cancelled_orders == []  # a second run changes nothing

        app.config["ORDER_CANCEL_DAYS"] = 0  # never
        assert run_billing(run + timedelta(days=90)).cancelled_orders == []
