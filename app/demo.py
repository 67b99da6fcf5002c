"""Demo data for `flask seed-demo`, made through the real services."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.auth.services import SignUp, register_client
from app.billing.run import run_billing
from app.clients.models import ClientKind, User
from app.core.actors import Actor
from app.core.dates import today
from app.extensions import db
from app.hosting.models import (
    BillingCycle,
    Product,
    ProductKind,
    ProductPrice,
    Service,
    ServiceGroup,
    ServiceStatus,
)
from app.hosting.services import CartItem, place_order
from app.staff.models import Staff
from app.staff.services import create_staff
from app.wallet.gateways import Card
from app.wallet.services import CardPayment, charge_card_to_wallet, pay_invoices_from_wallet, start_bank_transfer

DEMO_OWNER = ("demo@example.com", "demo-password-1")
DEMO_STAFF = ("admin@example.com", "admin-password-1")

CATALOG = [
    (
        ProductKind.HOSTING,
        "Web Hosting Start",
        "1 site, 10 GB NVMe, free SSL, daily backups.",
        {BillingCycle.MONTHLY: 499, BillingCycle.ANNUALLY: 4990},
    ),
    (
        ProductKind.HOSTING,
        "Web Hosting Pro",
        "10 sites, 50 GB NVMe, free SSL, daily backups, staging.",
        {BillingCycle.MONTHLY: 999, BillingCycle.ANNUALLY: 9990},
    ),
    (
        ProductKind.DOMAIN,
        ".ro domain",
        "Registration or transfer of a .ro domain.",
        {BillingCycle.ANNUALLY: 990},
    ),
    (
        ProductKind.DOMAIN,
        ".com domain",
        "Registration or transfer of a .com domain.",
        {BillingCycle.ANNUALLY: 1290},
    ),
]


def seed_catalog(currency: str = "EUR") -> bool:
    """Create the demo catalog if there are no products. Returns whether it did."""
    if db.session.scalar(sa.select(sa.func.count(Product.id))):
        return False
    for position, (kind, name, description, prices) in enumerate(CATALOG):
        db.session.add(
            Product(
                kind=kind,
                name=name,
                description=description,
                position=position,
                prices=[ProductPrice(cycle=c, currency=currency, amount_minor=a) for c, a in prices.items()],
            )
        )
    db.session.flush()
    return True


def seed_demo(log=print) -> None:
    """Demo staff, catalog, and a demo client with services, a paid tax invoice
    and a renewal proforma. Does nothing that is already there."""
    staff_email, staff_password = DEMO_STAFF
    if db.session.scalar(sa.select(Staff.id).where(Staff.email == staff_email)) is None:
        create_staff(staff_email, "Demo Admin", staff_password, superuser=True)
        log(f"demo staff: {staff_email} / {staff_password}")
    if seed_catalog():
        log("demo catalog created")
    db.session.commit()

    email, password = DEMO_OWNER
    if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        return
    owner = _demo_owner(email, password)
    log(f"demo owner: {email} / {password}")
    _demo_history(owner)

    log("demo services, wallet history, a paid tax invoice and a renewal proforma created")


def _demo_owner(email: str, password: str) -> User:
    """The demo company client and its owner, with full billing details."""
    owner = register_client(
        SignUp(
            email=email,
            password=password,
            name="Ana Popescu",
            kind=ClientKind.ORGANIZATION,
            company_name="Popescu Web SRL",
            country="RO",
            phone="+40722123456",
            sms_opt_in=True,
        )
    )
    client = owner.client
    client.tax_id = "RO18547290"
    client.address_line1 = "Str. Lalelelor 12"
    client.city = "Cluj-Napoca"
    client.region = "RO-CJ"  # ISO 3166-2, as e-Factura wants it (shown as "Cluj")
    client.postcode = "400001"
    db.session.commit()
    return owner


def _demo_history(owner: User) -> None:
    """A paid order, wallet history, a pending bank transfer and a renewal proforma."""
    client = owner.client
    # An order, paid: its services run for a year and a tax invoice exists.
    products = {p.name: p for p in db.session.scalars(sa.select(Product))}
    proforma = place_order(
        client,
        [
            CartItem(products["Web Hosting Pro"].id, BillingCycle.ANNUALLY, "popescu.ro"),
            CartItem(products[".ro domain"].id, BillingCycle.ANNUALLY, "popescu.ro"),
        ],
    )
    actor = Actor.user(owner)
    card = Card(number="4242424242424242", exp_month=12, exp_year=today().year + 3, cvc="123")
    charge_card_to_wallet(client.id, 20000, CardPayment(card=card, save=True), key="demo:topup", actor=actor)
    db.session.commit()
    pay_invoices_from_wallet(client.id, [proforma.id], key="demo:pay-order", actor=actor)
    start_bank_transfer(client.id, 5000)
    db.session.commit()

    # A monthly plan falling due next week: today's billing run makes its renewal proforma.
    group = ServiceGroup(client_id=client.id, name="Blog")
    db.session.add(group)
    db.session.add(
        Service(
            client_id=client.id,
            product_id=products["Web Hosting Start"].id,
            group=group,
            label="blog.popescu.ro",
            cycle=BillingCycle.MONTHLY,
            price_minor=499,
            currency=client.currency,
            status=ServiceStatus.ACTIVE,
            next_due_date=today() + timedelta(days=7),
        )
    )
    db.session.commit()
    run_billing(today())
