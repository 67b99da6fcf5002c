"""Card payment gateways. The built-in test gateway behaves like a real one:
it checks the card, refuses what the merchant does not accept, and declines the
widely known test numbers that real gateways decline."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from stdnum import luhn

from app.core.errors import ValidationError
from app.core.i18n import _


@dataclass(frozen=True)
class Card:
    number: str
    exp_month: int
    exp_year: int
    cvc: str


@dataclass(frozen=True)
class ChargeResult:
    ok: bool
    external_id: str
    brand: str
    last4: str
    fee_minor: int = 0
    message: str | None = None
    token: str | None = None  # when the card was saved


@dataclass(frozen=True)
class RefundResult:
    ok: bool
    external_id: str  # the gateway's refund id
    message: str | None = None


class CardError(ValidationError):
    """The card details are wrong or not accepted (field names the form field)."""


class PaymentGateway(Protocol):
    name: str

    def charge(
        self,
        amount_minor: int,
        currency: str,
        *,
        idempotency_key: str,
        card: Card | None = None,
        token: str | None = None,
        save: bool = False,
    ) -> ChargeResult: ...

    def refund(self, external_id: str, amount_minor: int, *, idempotency_key: str | None = None) -> RefundResult:
        """Pay `amount_minor` of the charge `external_id` back to its card. The same
        `idempotency_key` again refunds nothing twice (a retry after a crash). A gateway
        that cannot refund raises NotImplementedError (see GatewayWithoutRefunds)."""
        ...


class GatewayWithoutRefunds:
    """Mixin for a real gateway whose refund API is not wired in yet: says so clearly
    instead of pretending (staff refund in the gateway's dashboard, or to the wallet)."""

    name = "gateway"

    def refund(self, external_id: str, amount_minor: int, *, idempotency_key: str | None = None) -> RefundResult:
        raise NotImplementedError(
            f"The {self.name} gateway cannot refund from here yet: refund in its dashboard, or to the wallet."
        )


ACCEPTED_BRANDS = ("Visa", "MasterCard")


def card_brand(number: str) -> str | None:
    if number.startswith("4"):
        return "Visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or 2221 <= int(number[:4] or 0) <= 2720:
        return "MasterCard"
    if number[:2] in {"34", "37"}:
        return "American Express"
    return None


def check_card(card: Card, today: date) -> str:
    """The card's brand if we accept it. Raises CardError naming the field."""
    number = card.number
    if not number.isdigit() or not 13 <= len(number) <= 19 or not luhn.is_valid(number):
        raise CardError(_("This card number is not valid. Check the digits."), field="number")
    brand = card_brand(number)
    if brand == "American Express":
        raise CardError(_("We accept Visa and MasterCard only; American Express is not accepted."), field="number")
    if brand not in ACCEPTED_BRANDS:
        raise CardError(_("We accept Visa and MasterCard only."), field="number")
    if not 1 <= card.exp_month <= 12:
        raise CardError(_("Enter the expiry month (01-12)."), field="exp_month")
    if (card.exp_year, card.exp_month) < (today.year, today.month):
        raise CardError(_("This card has expired."), field="exp_year")
    if card.exp_year > today.year + 20:
        raise CardError(_("Check the expiry year."), field="exp_year")
    if not (card.cvc.isdigit() and len(card.cvc) == 3):
        raise CardError(_("Enter the 3-digit security code from the back of the card."), field="cvc")
    return brand


#: Test numbers a real gateway declines, with its message.
DECLINES = {
    "4000000000000002": "Your card was declined.",
    "4000000000009995": "Your card has insufficient funds.",
    "4000000000000069": "Your card has expired.",
    "4000000000000127": "Your card's security code is incorrect.",
    "5105105105105100": "Your card was declined.",
}


class TestGateway:
    """In-process gateway: 4242 4242 4242 4242 and 5555 5555 5555 4444 succeed,
    the DECLINES numbers are declined. Charges are idempotent per key, like a
    real gateway's idempotency keys: the same key gives the same charge id."""

    name = "test"

    def __init__(self, today: date | None = None) -> None:
        self.today = today or date.today()

    def charge(
        self,
        amount_minor: int,
        currency: str,
        *,
        idempotency_key: str,
        card: Card | None = None,
        token: str | None = None,
        save: bool = False,
    ) -> ChargeResult:
        external_id = "ch_test_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
        fee = (amount_minor * 140 + 5000) // 10000 + 25  # 1.4% + 0.25, kept by the gateway
        if token is not None:
            _, brand, last4, _ = token.split("_", 3)  # tok_<Brand>_<last4>_<random>
            return ChargeResult(True, external_id, brand, last4, fee)
        brand = check_card(card, self.today)
        last4 = card.number[-4:]
        if card.number in DECLINES:
            return ChargeResult(False, external_id, brand, last4, 0, DECLINES[card.number])
        saved = f"tok_{brand}_{last4}_{secrets.token_hex(8)}" if save else None
        return ChargeResult(True, external_id, brand, last4, fee, token=saved)

    def refund(self, external_id: str, amount_minor: int, *, idempotency_key: str | None = None) -> RefundResult:
        """Refunds any charge this gateway made (ids "ch_test_..."); another id is
        "No such charge", as a real gateway answers."""
        if not external_id.startswith("ch_test_"):
            return RefundResult(False, "", "No such charge on the test gateway.")
        seed = idempotency_key or f"{external_id}:{amount_minor}:{secrets.token_hex(8)}"
        return RefundResult(True, "re_test_" + hashlib.sha256(seed.encode()).hexdigest()[:24])


def get_gateway(name: str) -> PaymentGateway:
    if name == "test":
        return TestGateway()
    raise RuntimeError(f"unknown PAYMENT_GATEWAY {name!r}")
