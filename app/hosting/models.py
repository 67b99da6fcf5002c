"""The catalog (products and their prices) and the services clients hold."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.i18n import _l, in_language
from app.core.types import UTCDateTime, str_enum, utcnow
from app.extensions import db


class BillingCycle(enum.StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMIANNUALLY = "semiannually"
    ANNUALLY = "annually"
    BIENNIALLY = "biennially"

    @property
    def months(self) -> int:
        return {"monthly": 1, "quarterly": 3, "semiannually": 6, "annually": 12, "biennially": 24}[self.value]

    @property
    def label(self) -> str:
        """The name shown to a reader, in their language."""
        return str(_CYCLE_LABELS[self.value])

    @property
    def lazy_label(self):
        """The label translated when shown (form choices built at import time)."""
        return _CYCLE_LABELS[self.value]

    @property
    def english_label(self) -> str:
        """The label for data written to the database (invoice lines stay English)."""
        with in_language("en"):
            return str(_CYCLE_LABELS[self.value])

    def period_end(self, start: date, billing_day: int | None = None) -> date:
        """The first day after a period starting on `start`, on the service's billing day.

        The billing day keeps renewals from drifting: a service due on the 31st
        renews 31 Jan -> 28 Feb -> 31 Mar (the day is clamped to the month's end).
        Without one, the day of `start` is used.
        """
        return start + relativedelta(months=self.months, day=billing_day)


_CYCLE_LABELS = {
    "monthly": _l("Monthly"),
    "quarterly": _l("Every 3 months"),
    "semiannually": _l("Every 6 months"),
    "annually": _l("Yearly"),
    "biennially": _l("Every 2 years"),
}


class ProductKind(enum.StrEnum):
    HOSTING = "hosting"
    DOMAIN = "domain"
    OTHER = "other"


class ServiceStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"
    CANCELLED = "cancelled"  # an order that was never paid

    @property
    def label(self) -> str:
        """The name shown to a reader, in their language."""
        return str(_SERVICE_STATUS_LABELS[self.value])


_SERVICE_STATUS_LABELS = {
    "pending": _l("Pending"),
    "active": _l("Active"),
    "suspended": _l("Suspended"),
    "terminated": _l("Terminated"),
    "cancelled": _l("Cancelled"),
}


class Product(db.Model):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ProductKind] = mapped_column(str_enum(ProductKind))
    name: Mapped[str] = mapped_column(sa.String(120))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)

    prices: Mapped[list[ProductPrice]] = relationship(
        back_populates="product", order_by="ProductPrice.amount_minor", cascade="all, delete-orphan"
    )

    def price_for(self, cycle: BillingCycle, currency: str) -> ProductPrice | None:
        return next((p for p in self.prices if p.cycle is cycle and p.currency == currency), None)


class ProductPrice(db.Model):
    """The price of a product for one billing cycle in one currency (VAT excluded)."""

    __tablename__ = "product_prices"
    __table_args__ = (
        sa.UniqueConstraint("product_id", "cycle", "currency"),
        sa.CheckConstraint("amount_minor >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id"))
    cycle: Mapped[BillingCycle] = mapped_column(str_enum(BillingCycle))
    currency: Mapped[str] = mapped_column(sa.String(3))
    amount_minor: Mapped[int]

    product: Mapped[Product] = relationship(back_populates="prices")


class ServiceGroup(db.Model):
    """A client's own grouping of services; its name is printed on invoices unless hidden."""

    __tablename__ = "service_groups"
    __table_args__ = (sa.UniqueConstraint("client_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    hide_on_invoice: Mapped[bool] = mapped_column(default=False)


def _first_due_day(context) -> int | None:
    """Insert default of Service.billing_day: the day of the first due date, if any."""
    due = context.get_current_parameters().get("next_due_date")
    return due.day if due else None


class Service(db.Model):
    """A hosting account, domain or other recurring service of one client."""

    __tablename__ = "services"
    __table_args__ = (
        sa.Index("ix_services_status_next_due_date", "status", "next_due_date"),
        # The staff profile's Services tab: a client's newest services, a keyset page at a time.
        sa.Index("ix_services_client_id_id", "client_id", "id"),
        sa.Index("ix_services_client_id_status", "client_id", "status"),  # a client's services by status
        sa.CheckConstraint("price_minor >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"))
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id"))
    group_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service_groups.id"))
    # The domain or account name the customer recognises (example.ro, a plan label).
    label: Mapped[str] = mapped_column(sa.String(255))
    status: Mapped[ServiceStatus] = mapped_column(str_enum(ServiceStatus), default=ServiceStatus.PENDING)
    cycle: Mapped[BillingCycle] = mapped_column(str_enum(BillingCycle))
    # Recurring price per cycle, VAT excluded, in the client's currency.
    price_minor: Mapped[int]
    currency: Mapped[str] = mapped_column(sa.String(3))
    next_due_date: Mapped[date | None] = mapped_column(sa.Date)
    # The day of the month renewals fall due (29-31 clamp to a short month's end).
    # Set when the service starts, and from the first due date of an imported one.
    billing_day: Mapped[int | None] = mapped_column(sa.SmallInteger, default=_first_due_day)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suspended_on: Mapped[date | None] = mapped_column(sa.Date)
    suspension_reason: Mapped[str | None] = mapped_column(sa.String(40))
    terminated_on: Mapped[date | None] = mapped_column(sa.Date)

    product: Mapped[Product] = relationship()
    group: Mapped[ServiceGroup | None] = relationship()

    @property
    def description(self) -> str:
        return f"{self.product.name} - {self.label}"
