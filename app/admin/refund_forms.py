"""The forms of a payment's refund page and a tax invoice's credit note page."""

from __future__ import annotations

import secrets

from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, StringField, ValidationError
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from app.core.errors import InvalidAmount
from app.core.forms import strip
from app.core.i18n import _, _l
from app.core.money import parse_amount
from app.invoices.services import LineCredit

DESTINATION_LABELS = {"card": _l("Back to the card"), "wallet": _l("To the client's balance")}


def _amount_minor(field, currency: str) -> int:
    """The field's amount in minor units. Raises wtforms.ValidationError beside the field."""
    try:
        return parse_amount(field.data or "", currency)
    except InvalidAmount as error:
        field.errors = [*field.errors, error.message]
        raise ValidationError(error.message) from None


class RefundForm(FlaskForm):
    amount = StringField(
        _l("Amount to refund"), filters=[strip], validators=[DataRequired(_l("Enter the amount to refund."))]
    )
    to = RadioField(_l("Where the money goes"), validators=[DataRequired(_l("Choose where the money goes."))])
    reason = StringField(
        _l("Reason"), filters=[strip], validators=[DataRequired(_l("Give the reason for the refund.")), Length(max=200)]
    )
    # One key per page shown: submitting the same page twice refunds once.
    key = HiddenField(default=lambda: secrets.token_urlsafe(18), validators=[DataRequired(), Length(max=60)])

    def __init__(self, destinations: list[str], *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.to.choices = [SelectChoice(d, DESTINATION_LABELS[d]) for d in destinations]
        if self.to.data is None and destinations:
            self.to.data = destinations[0]

    def amount_minor(self, currency: str) -> int:
        return _amount_minor(self.amount, currency)


class CreditNoteForm(FlaskForm):
    mode = RadioField(
        _l("Credit"),
        choices=[
            SelectChoice("whole", _l("The whole invoice")),
            SelectChoice("lines", _l("Some lines")),
            SelectChoice("amount", _l("An amount")),
        ],
        default="whole",
    )
    amount = StringField(_l("Amount, VAT included"), filters=[strip])
    reason = StringField(
        _l("Reason"),
        filters=[strip],
        validators=[DataRequired(_l("Give the reason for the credit note.")), Length(max=200)],
    )
    lines = HiddenField()  # where a refusal about the lines is shown
    # What was left to credit when the page was shown: a second submit issues nothing more.
    left = HiddenField()

    def expected_left_minor(self) -> int | None:
        return int(self.left.data) if (self.left.data or "").lstrip("-").isdigit() else None

    def amount_minor(self, currency: str) -> int | None:
        if self.mode.data != "amount":
            return None
        return _amount_minor(self.amount, currency)

    def line_credits(self, formdata, invoice_lines) -> list[LineCredit] | None:
        """The quantities typed beside the lines (field "qty-<line id>"); None unless "Some lines"."""
        if self.mode.data != "lines":
            return None
        credits = []
        for line in invoice_lines:
            text = (formdata.get(f"qty-{line.id}") or "").strip()
            if not text:
                continue
            if not text.isdigit() or int(text) <= 0:
                message = _("Line %(position)s: enter a whole number above zero.", position=line.position)
                self.lines.errors = [*self.lines.errors, message]
                raise ValidationError("bad quantity")
            credits.append(LineCredit(line.id, int(text)))
        if not credits:
            self.lines.errors = [*self.lines.errors, _("Enter the quantity to credit beside at least one line.")]
            raise ValidationError("no line")
        return credits
