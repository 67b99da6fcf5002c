"""The forms of the profile's casework: notes, files, queued items, service groups and the
invoice made by hand. They check the shape of the input; the rules are app.casework's."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import DataRequired, Length, Optional

from app.casework.services import NOTE_MAX_CHARS, ManualLine
from app.core.errors import InvalidAmount
from app.core.forms import strip
from app.core.i18n import _, _l
from app.core.money import parse_amount

MANUAL_INVOICE_LINES = 6


class ButtonForm(FlaskForm):
    """A button's form: its CSRF token, and the value it sets ("on"/"off" where it toggles)."""

    value = HiddenField()

    @property
    def on(self) -> bool:
        return self.value.data == "on"


class NoteForm(FlaskForm):
    body = TextAreaField(
        _l("Note"),
        validators=[DataRequired(_l("Write the note.")), Length(max=NOTE_MAX_CHARS)],
        render_kw={"rows": 3, "maxlength": NOTE_MAX_CHARS},
    )
    pinned = BooleanField(_l("Pin on top"))


class FileForm(FlaskForm):
    file = FileField(_l("File (PDF, PNG, JPEG or plain text)"))
    client_visible = BooleanField(_l("The client can see and download it (Documents)"))


def _amount(field, currency: str) -> int:
    """The amount typed in `field`, in minor units; a bad one is an error beside the field."""
    try:
        return parse_amount(field.data or "", currency)
    except InvalidAmount as error:
        field.errors = [*field.errors, error.message]
        raise ValidationError(error.message) from None


class QueuedItemForm(FlaskForm):
    description = StringField(
        _l("Description"), filters=[strip], validators=[DataRequired(_l("Describe the item.")), Length(max=255)]
    )
    amount = StringField(_l("Amount (before tax)"), filters=[strip], validators=[DataRequired(_l("Enter the amount."))])

    def amount_minor(self, currency: str) -> int:
        return _amount(self.amount, currency)


class ServiceGroupForm(FlaskForm):
    name = StringField(
        _l("Group name"), filters=[strip], validators=[DataRequired(_l("Name the group.")), Length(max=80)]
    )


class MoveServiceForm(FlaskForm):
    group_id = SelectField(_l("Group"), choices=[], validate_choice=False)

    def target(self) -> int | None:
        raw = self.group_id.data or ""
        if not raw:
            return None
        if not raw.isdigit() or len(raw) > 18:
            message = _("Choose a group.")
            self.group_id.errors = [*self.group_id.errors, message]
            raise ValidationError(message)
        return int(raw)


class InvoiceLineForm(Form):
    description = StringField(_l("Description"), filters=[strip], validators=[Optional(), Length(max=255)])
    quantity = StringField(_l("Quantity"), filters=[strip], default="1")
    unit_price = StringField(_l("Unit price"), filters=[strip])

    @property
    def blank(self) -> bool:
        return not (self.description.data or self.unit_price.data)


class ManualInvoiceForm(FlaskForm):
    lines = FieldList(FormField(InvoiceLineForm), min_entries=MANUAL_INVOICE_LINES, max_entries=50)
    due_date = DateField(_l("Due date"), validators=[DataRequired(_l("Choose the due date."))])

    def manual_lines(self, currency: str) -> list[ManualLine]:
        """The filled lines (blank rows skipped). Raises ValidationError, each message beside its field."""
        lines, bad = [], False
        for entry in self.lines:
            row = entry.form
            if row.blank:
                continue
            if not row.description.data:
                row.description.errors = [*row.description.errors, _("Describe the line.")]
                bad = True
            quantity = row.quantity.data or "1"
            if not quantity.isdigit() or not 1 <= int(quantity) <= 10_000:
                row.quantity.errors = [*row.quantity.errors, _("A whole number from 1 to 10000.")]
                bad = True
            try:
                price = _amount(row.unit_price, currency)
            except ValidationError:
                bad = True
                continue
            if not bad:
                lines.append(ManualLine(row.description.data, int(quantity), price))
        if bad:
            raise ValidationError(_("Check the lines."))
        if not lines:
            message = _("Add at least one line.")
            self.form_errors.append(message)
            raise ValidationError(message)
        return lines
