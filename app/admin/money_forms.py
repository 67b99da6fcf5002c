"""The forms of the staff balance actions (edit credit, add credit) and of four-eyes decisions."""

from __future__ import annotations

import uuid

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField, ValidationError
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from app.core.errors import InvalidAmount
from app.core.forms import strip
from app.core.i18n import _l
from app.core.money import parse_amount

_MINUS = ("-", "\u2212")


class _Keyed(FlaskForm):
    #: A one-time key made when the form is shown: a double submit changes the balance once.
    key = HiddenField(validators=[DataRequired(_l("Reload the page and try again.")), Length(max=64)])

    def fresh_key(self) -> None:
        if not self.key.data:
            self.key.data = uuid.uuid4().hex


def _amount_error(field, message: str):
    field.errors = [*field.errors, message]
    raise ValidationError(message)


class AdjustCreditForm(_Keyed):
    amount = StringField(
        _l("Amount (+ adds, \u2212 removes)"),
        filters=[strip],
        validators=[DataRequired(_l("Enter an amount such as 25.00 or -25.00.")), Length(max=24)],
    )
    reason = StringField(
        _l("Reason (goes into the credit log)"),
        filters=[strip],
        validators=[DataRequired(_l("Give a reason: it goes into the credit log.")), Length(max=200)],
    )

    def amount_minor(self, currency: str) -> int:
        """The signed amount in minor units. Raises ValidationError beside the field."""
        text = (self.amount.data or "").replace(" ", "")
        sign = -1 if text.startswith(_MINUS) else 1
        try:
            return sign * parse_amount(text.lstrip("+-\u2212"), currency)
        except InvalidAmount as error:
            _amount_error(self.amount, error.message)


METHOD_CHOICES = [
    SelectChoice("bank_transfer", _l("Bank transfer")),
    SelectChoice("cash", _l("Cash")),
    SelectChoice("other", _l("Other")),
]


class AddCreditForm(_Keyed):
    amount = StringField(
        _l("Amount received"), filters=[strip], validators=[DataRequired(_l("Enter the amount received."))]
    )
    method = SelectField(_l("How it arrived"), choices=METHOD_CHOICES, default="bank_transfer")
    reference = StringField(
        _l("Reference (bank statement line, receipt number)"),
        filters=[strip],
        validators=[DataRequired(_l("Enter the payment's reference.")), Length(max=100)],
    )
    proforma = StringField(
        _l("Then pay proforma (number, optional)"), filters=[strip], validators=[Optional(), Length(max=40)]
    )
    note = StringField(_l("Note (optional)"), filters=[strip], validators=[Optional(), Length(max=200)])

    def amount_minor(self, currency: str) -> int:
        try:
            return parse_amount(self.amount.data or "", currency)
        except InvalidAmount as error:
            _amount_error(self.amount, error.message)


class ApproveRequestForm(FlaskForm):
    confirm = BooleanField(
        _l("I checked this change and approve it"),
        validators=[DataRequired(_l("Tick this to confirm you checked the change."))],
    )


class RejectRequestForm(FlaskForm):
    note = StringField(
        _l("Why not"), filters=[strip], validators=[DataRequired(_l("Say why, for the requester.")), Length(max=255)]
    )
