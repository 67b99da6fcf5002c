"""A client with a row in every table the staff profile's tabs read, each holding `text`
where a person could have typed it (the XSS checks put a script tag there)."""

from __future__ import annotations

import uuid
from datetime import date

from app.audit.models import AuditEntry
from app.casework.models import ClientFile, ClientNote
from app.clients.models import Client, ProfileChange
from app.core.types import utcnow
from app.extensions import db
from app.invoices.models import BillingProfile, ClientKind, Invoice, ServiceRenewal
from app.invoices.services import issue_credit_note
from app.notify.models import EmailMessage, MessageStatus, ServiceNotice, SmsMessage, SmsStatus
from app.security.models import LoginEvent
from app.staff.models import Staff
from app.staff.services import create_staff
from app.wallet.models import BankTransfer, Payment, PaymentDirection, PaymentStatus, TransferStatus
from tests import factories
from tests.helpers import make_proforma, make_service, pay
from tests.support.sms import PHONE


def fill_client(app, client_id: int, user_id: int, text: str, *, n: int = 1) -> None:
    """`n` of each: services (grouped, renewed, noticed), orders paid into tax invoices with
    a credit note, an unpaid proforma, payments in and out, ledger entries, emails and SMS
    (one failed), profile changes, audit entries, sign-ins, staff notes (the first pinned)
    and files (the first client-visible); one trusted user, one payer and one bank transfer
    to review."""
    with app.app_context():
        writer = db.session.scalar(db.select(Staff.id).order_by(Staff.id).limit(1))
        if writer is None:
            writer = create_staff(f"writer-{uuid.uuid4().hex[:8]}@example.com", "Casey Clerk", "staff-password-1").id
            db.session.commit()
    for i in range(n):
        service_id = make_service(app, client_id, due=date(2026, 12, 20), label=f"{text} site{i}.example", group=text)
        number = make_proforma(app, client_id, 1500, description=f"{text} hosting {i}")
        tax_number = pay(app, number)
        unpaid = make_proforma(app, client_id, 700, description=f"{text} domain {i}")
        with app.app_context():
            tax_invoice = db.session.scalar(db.select(Invoice).where(Invoice.number == tax_number))
            if i == 0:
                issue_credit_note(tax_invoice, reason=f"{text} refund")
            proforma_id = db.session.scalar(db.select(Invoice.id).where(Invoice.number == unpaid))
            db.session.add(
                ServiceRenewal(service_id=service_id, period_start=date(2026, 12, 20 - i % 10), proforma_id=proforma_id)
            )
            db.session.add(
                ServiceNotice(service_id=service_id, due_date=date(2026, 11, 20), stage="termination_warning")
            )
            key = uuid.uuid4().hex
            db.session.add_all(
                [
                    Payment(
                        client_id=client_id,
                        gateway="test_card",
                        external_id=f"ch_{key}",
                        idempotency_key=f"in-{key}",
                        amount_minor=2000,
                        fee_minor=60,
                        currency="EUR",
                        status=PaymentStatus.SUCCEEDED,
                        card_brand="Visa",
                        card_last4="4242",
                        failure_message=None,
                    ),
                    Payment(
                        client_id=client_id,
                        gateway="test_card",
                        external_id=f"re_{key}",
                        idempotency_key=f"out-{key}",
                        direction=PaymentDirection.OUT,
                        amount_minor=500,
                        currency="EUR",
                        status=PaymentStatus.SUCCEEDED,
                        failure_message=text,
                    ),
                    EmailMessage(
                        client_id=client_id,
                        user_id=user_id,
                        recipients=["owner@example.com"],
                        template="test",
                        subject=f"{text} subject {i}",
                        body_text=f"{text} body",
                        body_html=f"<p>{text}</p>",
                        status=MessageStatus.FAILED if i == 0 else MessageStatus.SENT,
                        attempts=3,
                        last_error=f"{text} refused",
                    ),
                    SmsMessage(
                        client_id=client_id,
                        user_id=user_id,
                        event_key=f"test:{key}",
                        phone=PHONE,
                        sender="Hostico",
                        body=f"{text} sms {i}",
                        status=SmsStatus.SENT,
                        attempts=1,
                        sent_at=utcnow(),
                    ),
                    ProfileChange(
                        client_id=client_id,
                        user_id=user_id,
                        actor=f"user:{user_id}",
                        field="name",
                        old_value="Old name",
                        new_value=text,
                        ip="192.0.2.1",
                    ),
                    AuditEntry(
                        actor_kind="staff",
                        actor="staff:1",
                        action="client.note",
                        client_id=client_id,
                        target=f"client:{client_id}",
                        old_value=None,
                        new_value=text,
                        ip="192.0.2.2",
                    ),
                    ClientNote(client_id=client_id, staff_id=writer, body=f"{text} note {i}\nline two", pinned=i == 0),
                    ClientFile(
                        client_id=client_id,
                        staff_id=writer,
                        filename=f"{text} file {i}.pdf",
                        stored_name=uuid.uuid4().hex,
                        mimetype="application/pdf",
                        size_bytes=1000,
                        client_visible=i == 0,
                    ),
                    LoginEvent(
                        user_id=user_id,
                        succeeded=i % 2 == 0,
                        reason="password",
                        ip="192.0.2.3",
                        user_agent=f"{text} browser",
                    ),
                ]
            )
            db.session.commit()
        with app.app_context():
            factories.LedgerEntryFactory(client_id=client_id, amount_minor=1000, description=f"{text} credit {i}")
            db.session.commit()
    with app.app_context():
        client = db.session.get(Client, client_id)
        db.session.add(
            factories.TrustedUserFactory.build(client_id=client_id, name=text, permissions=["invoices.view"])
        )
        db.session.add(
            BillingProfile(
                client_id=client_id,
                kind=ClientKind.ORGANIZATION,
                name=text,
                company_name=text,
                tax_id="RO123",
                country="RO",
            )
        )
        db.session.add(
            BankTransfer(
                client_id=client_id,
                reference=f"BF-{uuid.uuid4().hex[:8]}",
                amount_minor=5000,
                currency=client.currency,
                status=TransferStatus.PENDING,
            )
        )
        db.session.commit()
