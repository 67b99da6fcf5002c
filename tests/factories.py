"""factory_boy factories for the rows tests need, on the app's `db.session`.

Each factory is called inside an app context (the helpers in tests/helpers.py
open one) and only flushes; the caller commits. Where the app has a service for
making a row, the factory goes through it so the row is what production makes:

- OwnerFactory: a client and its owner user through `register_client` (the
  welcome email is queued as on a real sign-up);
- TrustedServiceUserFactory: a trusted user through `add_trusted_user`;
- ProformaFactory: a proforma with its lines through `create_proforma`;
- TaxInvoiceFactory: a proforma settled in full through `record_payment`;
- LedgerEntryFactory: money through `post_entry`, so the balance and the ledger
  always agree (integer minor units; a balance is never written directly).

Plain rows (a trusted user row, a service, a bank transfer) are
SQLAlchemyModelFactory factories.
"""

from __future__ import annotations

import uuid
from datetime import date

import factory
import sqlalchemy as sa
from factory.alchemy import SQLAlchemyModelFactory

from app.auth.services import SignUp, register_client
from app.clients.models import Client, ClientKind, User, UserRole
from app.core.passwords import hash_password
from app.extensions import db
from app.hosting.models import BillingCycle, Product, Service, ServiceGroup, ServiceStatus
from app.invoices.models import Invoice, ProformaOrigin
from app.invoices.services import LineSpec, create_proforma, record_payment
from app.trusted_users.services import Access, add_trusted_user
from app.wallet.models import BankTransfer, EntryKind, LedgerEntry
from app.wallet.services import post_entry

OWNER_EMAIL = "owner@example.com"
OWNER_PASSWORD = "correct-horse-1"


def _session():
    return db.session


class _Model(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = _session
        sqlalchemy_session_persistence = "flush"


# --- clients and users --------------------------------------------------------


class OwnerFactory(factory.Factory):
    """A client with its owner user, through the sign-up service; returns the User."""

    class Meta:
        model = SignUp

    email = OWNER_EMAIL
    password = OWNER_PASSWORD
    name = "Ion Ionescu"
    kind = ClientKind.PERSON
    country = "RO"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        user = register_client(model_class(*args, **kwargs))
        db.session.flush()
        return user


class TrustedUserFactory(_Model):
    """A trusted user row of a client, as staff or an import would write it."""

    class Meta:
        model = User

    client_id = None
    role = UserRole.TRUSTED
    email = factory.Sequence(lambda n: f"trusted{n}@example.com")
    name = "Trusted Person"
    password_hash = factory.LazyAttribute(lambda o: hash_password(o.password))
    permissions = factory.List([])
    notification_types = factory.List([])

    class Params:
        password = "trusted-password-1"


class TrustedServiceUserFactory(factory.Factory):
    """A trusted user added the way an owner adds one (`add_trusted_user`);
    password None invites them by email instead."""

    class Meta:
        model = Access

    client_id = None
    name = "Maria Popescu"
    email = "maria@example.com"
    password = "trusted-pass-42"
    permissions = factory.List([])
    notification_types = factory.List([])

    @classmethod
    def _create(cls, model_class, client_id, name, email, password, permissions, notification_types):
        client = db.session.get(Client, client_id)
        user = add_trusted_user(client, name, email, password, Access(list(permissions), list(notification_types)))
        db.session.flush()
        return user


# --- hosting ------------------------------------------------------------------


def first_product() -> Product:
    """The first catalogue product (the demo catalogue is seeded if it is empty)."""
    from app.demo import seed_catalog

    seed_catalog()
    return db.session.scalars(sa.select(Product).order_by(Product.id)).first()


class ServiceGroupFactory(_Model):
    class Meta:
        model = ServiceGroup

    client_id = None
    name = "Group"
    hide_on_invoice = False


class ServiceFactory(_Model):
    """An existing service (as if imported or renewed before) of a client."""

    class Meta:
        model = Service

    client_id = None
    product_id = factory.LazyFunction(lambda: first_product().id)
    group = None
    label = "example.com"
    cycle = BillingCycle.MONTHLY
    price_minor = 1000
    currency = "EUR"
    status = ServiceStatus.ACTIVE
    next_due_date = date(2026, 12, 1)


# --- invoices -----------------------------------------------------------------


class ProformaFactory(factory.Factory):
    """A proforma of a client through `create_proforma`; `lines` are LineSpecs
    (one 10.00 EUR "Web hosting" line unless given)."""

    class Meta:
        model = Invoice

    client_id = None
    lines = factory.LazyFunction(lambda: [LineSpec("Web hosting", 1000)])
    origin = ProformaOrigin.ORDER
    issue_date = date(2026, 11, 1)
    due_date = date(2026, 11, 8)

    @classmethod
    def _create(cls, model_class, client_id, lines, **kwargs):
        proforma = create_proforma(db.session.get(Client, client_id), list(lines), **kwargs)
        db.session.flush()
        return proforma


class TaxInvoiceFactory(factory.Factory):
    """A tax invoice, made the real way: a proforma paid in full (`record_payment`)."""

    class Meta:
        model = Invoice

    proforma = factory.SubFactory(ProformaFactory)

    @classmethod
    def _create(cls, model_class, proforma):
        tax_invoice = record_payment(proforma.id, proforma.total_minor)
        db.session.flush()
        return tax_invoice


# --- wallet -------------------------------------------------------------------


class LedgerEntryFactory(factory.Factory):
    """Money into (or, negative, out of) a client's wallet through `post_entry`:
    a staff adjustment unless told otherwise."""

    class Meta:
        model = LedgerEntry

    client_id = None
    amount_minor = 1000
    kind = EntryKind.ADJUSTMENT
    key = factory.LazyFunction(lambda: uuid.uuid4().hex)
    actor = "staff:1"
    description = "Test credit"

    @classmethod
    def _create(cls, model_class, client_id, amount_minor, kind, **kwargs):
        return post_entry(client_id, amount_minor, kind, **kwargs)


class BankTransferFactory(_Model):
    class Meta:
        model = BankTransfer

    client_id = None
    reference = "BF-TEST-0001"
    amount_minor = 5000
    currency = "EUR"
