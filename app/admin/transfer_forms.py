"""The forms of a bank transfer's review page."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, ValidationError
from wtforms.validators import DataRequired, Length

from app.core.errors import InvalidAmount
from app.core.forms import strip
from app.core.money import parse_amount


class ApproveTransferForm(FlaskForm):
    received = StringField("Amount received", filters=[strip], validators=[DataRequired("Enter the amount received.")])
    confirm = BooleanField(
        "I found this payment on the bank statement, with this reference",
        validators=[DataRequired("Tick this once you have found the payment on the bank statement.")],
    )

    def received_minor(self, currency: str, declared_minor: int) -> int:
        """The amount in minor units: at most ten times what the client declared (a typo
        must not credit a fortune). Raises ValidationError beside the field."""
        try:
            return parse_amount(self.received.data or "", currency, max_minor=declared_minor * 10)
        except InvalidAmount as error:
            self.received.errors = [*self.received.errors, error.message]
            raise ValidationError(error.message) from None


class RejectTransferForm(FlaskForm):
    reason = StringField(
        "Reason",
        filters=[strip],
        validators=[DataRequired("Tell the client why."), Length(max=255)],
    )
