"""Forms for adding funds, paying invoices, bank transfer proofs and statements."""

from __future__ import annotations

import uuid
from datetime import date

from flask import current_app
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, HiddenField, RadioField, SelectField, StringField, ValidationError
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from app.core.errors import InvalidAmount
from app.core.forms import strip
from app.core.i18n import _, _l
from app.core.money import format_money, parse_amount, to_decimal
from app.wallet.gateways import Card

NEW_CARD = "new"


def _digits(value):
    return "".join(value.split()) if isinstance(value, str) else value


class CardFieldsMixin:
    """A new card or a saved one; the card is checked by the gateway, not here."""

    saved_card = SelectField(_l("Pay with"), default=NEW_CARD)
    number = StringField(_l("Card number"), filters=[_digits], validators=[Length(max=23)])
    exp_month = StringField(_l("Month (MM)"), filters=[strip], validators=[Length(max=2)])
    exp_year = StringField(_l("Year (YY)"), filters=[strip], validators=[Length(max=4)])
    cvc = StringField(_l("Security code"), filters=[strip], validators=[Length(max=4)])
    save_card = BooleanField(_l("Save this card for next time (we keep only a token from the payment processor)"))
    idempotency_key = HiddenField(validators=[Length(max=64)])

    def forget_card(self) -> None:
        """Blank the card number and security code before the form is shown again."""
        self.number.data = ""
        self.cvc.data = ""
        self.number.raw_data = self.cvc.raw_data = None

    def setup_cards(self, saved_cards) -> None:
        self.saved_card.choices = [SelectChoice(str(c.id), c.label) for c in saved_cards] + [
            SelectChoice(NEW_CARD, _("A new card"))
        ]
        if saved_cards and not self.is_submitted():
            self.saved_card.data = str(saved_cards[0].id)
        if not self.idempotency_key.data:
            self.idempotency_key.data = uuid.uuid4().hex

    def card(self) -> Card:
        """The new card typed in. Raises ValidationError naming a field."""
        month, year = self.exp_month.data or "", self.exp_year.data or ""
        if not (month.isdigit() and year.isdigit()):
            raise_field(self.exp_month, _("Enter the expiry date as MM and YY."))
        year_number = int(year) + (2000 if len(year) <= 2 else 0)
        return Card(number=self.number.data or "", exp_month=int(month), exp_year=year_number, cvc=self.cvc.data or "")

    def saved_card_id(self) -> int | None:
        return None if self.saved_card.data == NEW_CARD else int(self.saved_card.data)


def raise_field(field, message: str):
    field.errors = [*field.errors, message]
    raise ValidationError(message)


class AddFundsForm(CardFieldsMixin, FlaskForm):
    amount = RadioField(_l("Amount"), validate_choice=False)
    custom_amount = StringField(_l("Other amount"), filters=[strip], validators=[Length(max=20)])
    currency = HiddenField()
    method = RadioField(
        _l("Pay by"),
        choices=[SelectChoice("card", _l("Card")), SelectChoice("bank", _l("Bank transfer"))],
        default="card",
    )

    def __init__(self, currency: str, saved_cards, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.client_currency = currency
        presets = current_app.config["WALLET_TOPUP_PRESETS"]
        self.amount.choices = [SelectChoice(str(to_decimal(p, currency)), format_money(p, currency)) for p in presets]
        if not self.is_submitted():
            self.amount.data = str(to_decimal(presets[min(1, len(presets) - 1)], currency))
            self.currency.data = currency
        self.setup_cards(saved_cards)

    def amount_minor(self) -> int:
        """The chosen amount in minor units. Raises ValidationError beside the amount."""
        config = current_app.config
        if (self.currency.data or self.client_currency) != self.client_currency:
            raise_field(
                self.amount, _("Amounts are in %(currency)s, your account's currency.", currency=self.client_currency)
            )
        custom = config["WALLET_TOPUP_CUSTOM"] and self.custom_amount.data
        field = self.custom_amount if custom else self.amount
        try:
            minor = parse_amount(field.data or "", self.client_currency, max_minor=config["WALLET_TOPUP_MAX"])
        except InvalidAmount as error:
            raise_field(field, error.message)
        if custom:
            if minor < config["WALLET_TOPUP_MIN"]:
                raise_field(
                    field,
                    _(
                        "The smallest top-up is %(amount)s.",
                        amount=format_money(config["WALLET_TOPUP_MIN"], self.client_currency),
                    ),
                )
        elif minor not in config["WALLET_TOPUP_PRESETS"]:
            raise_field(field, _("Choose one of the amounts shown."))
        return minor


class PayInvoicesForm(CardFieldsMixin, FlaskForm):
    use_balance = BooleanField(_l("Use my account balance first"))
    # The card amount the customer saw: a different one at submit time is refused.
    expected_card_minor = HiddenField(validators=[Length(max=20)])

    def __init__(self, saved_cards, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.setup_cards(saved_cards)


class ProofForm(FlaskForm):
    proof = FileField(_l("Proof of payment (PDF, PNG or JPEG, at most 5 MB)"))


class StatementForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form that changes nothing

    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("To"), validators=[Optional()])

    def period(self, today: date) -> tuple[date, date]:
        start = self.start.data or today.replace(day=1)
        end = self.end.data or today
        return start, end
