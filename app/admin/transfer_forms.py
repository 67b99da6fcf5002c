"""The forms of a bank transfer's review page."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, ValidationError
from wtforms.validators import DataRequired, Length, Optional

from app.core.errors import InvalidAmount
from app.core.forms import strip
from app.core.i18n import _l
from app.core.money import parse_amount


class ApproveTransferForm(FlaskForm):
    received = StringField(
        _l("Amount received"), filters=[strip], validators=[DataRequired(_l("Enter the amount received."))]
    )
    reason = StringField(
        _l("Reason, if the amount differs from the declared one"),
        filters=[strip],
        validators=[Optional(), Length(max=200)],
    )
    confirm = BooleanField(
        _l("I found this payment on the bank statement, with this reference"),
        validators=[DataRequired(_l("Tick this once you have found the payment on the bank statement."))],
    )

    def received_minor(self, currency: str) -> int:
        """The amount in minor units (how much may be credited is the wallet's rule:
        approve_bank_transfer). Raises ValidationError beside the field."""
        try:
            return parse_amount(self.received.data or "", currency)
        except InvalidAmount as error:
            self.received.errors = [*self.received.errors, error.message]
            raise ValidationError(error.message) from None


class RejectTransferForm(FlaskForm):
    reason = StringField(
        _l("Reason"),
        filters=[strip],
        validators=[DataRequired(_l("Tell the client why.")), Length(max=255)],
    )
