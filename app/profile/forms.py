"""Forms of My details (profile, billing, avatar) and of the privacy page."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from app.clients.forms import BillingFields, kind_field
from app.clients.models import ClientKind
from app.core.forms import country_choices, normalize_phone, strip
from app.core.i18n import LANGUAGES, _, _l
from app.invoices.tax import InvalidTaxId, normalize_tax_id
from app.notify.services import sms_reach_problem
from app.profile.services import LOCKABLE_FIELDS

LOCKED_NOTE = _l("Contact us to change this.")
LOCKED_REFUSED = _l("This field can't be changed from your account. Contact us to change this.")

# Optional text fields: an empty answer is stored as NULL.
_OPTIONAL = {"phone", "company_name", "tax_id", "address_line1", "address_line2", "city", "region", "postcode"}


class DetailsForm(BillingFields, FlaskForm):
    """Profile fields of the user and billing fields of their client.

    Build it with `obj=` the current values on GET *and* POST: a disabled
    (locked) input is not submitted, so it keeps its stored value. A locked
    field that is submitted with another value (a forged POST) is refused.
    """

    name = StringField(
        _l("Your name"), filters=[strip], validators=[DataRequired(message=_l("Enter your name.")), Length(max=120)]
    )
    phone = StringField(_l("Mobile phone"), filters=[strip], validators=[Length(max=32)])
    sms_opt_in = BooleanField(_l("Send me SMS alerts for new invoices and service suspensions"))
    language = SelectField(_l("Interface language"), coerce=lambda code: code or None)
    kind = kind_field(_l("Account type"), _l("Company or organization"))
    billing_name = StringField(
        _l("Name on invoices"),
        filters=[strip],
        validators=[DataRequired(message=_l("Enter the name to put on your invoices.")), Length(max=120)],
    )
    country = SelectField(_l("Country"), validators=[DataRequired(message=_l("Choose your country."))])

    def __init__(self, *args, locked: list[str] | tuple[str, ...] = (), account_language: str = "en", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.language.choices = [
            SelectChoice("", _("The account's language (%(name)s)", name=LANGUAGES.get(account_language, ""))),
            *(SelectChoice(code, name) for code, name in LANGUAGES.items()),
        ]
        self.country.choices = country_choices()
        self.locked = frozenset(locked) & LOCKABLE_FIELDS.keys()
        self.refused: set[str] = set()
        for name in self.locked:
            field = self[name]
            field.render_kw = {**(field.render_kw or {}), "disabled": True}
            if field.raw_data and not _same_as_stored(field):
                self.refused.add(name)
            field.data = field.object_data  # what is stored stays, whatever was posted

    def validate(self, extra_validators=None) -> bool:
        super().validate(extra_validators)
        for name in self.locked:
            # A locked field is not the customer's input: only a refusal is reported.
            self[name].errors = [str(LOCKED_REFUSED)] if name in self.refused else []
            self[name].data = self[name].object_data
        return not any(field.errors for field in self)

    def validate_company_name(self, field) -> None:
        if self.kind.data == ClientKind.ORGANIZATION.value and not field.data:
            raise ValidationError(_("Enter the company name for a company account."))

    def validate_tax_id(self, field) -> None:
        if self.kind.data not in {k.value for k in ClientKind}:
            return  # the account type reports its own error
        try:
            field.data = normalize_tax_id(ClientKind(self.kind.data), self.country.data or "", field.data)
        except InvalidTaxId as exc:
            raise ValidationError(str(exc)) from None

    def validate_phone(self, field) -> None:
        normalize_phone(field, self.country.data)

    def validate_sms_opt_in(self, field) -> None:
        if field.data and not self.phone.data:
            raise ValidationError(_("Enter a mobile number to receive SMS alerts."))
        if field.data and not self.phone.errors and (problem := sms_reach_problem(self.phone.data)):
            raise ValidationError(problem)  # the opt-in is refused; the number may be kept without it

    def values(self) -> dict[str, Any]:
        """The submitted details by field name, empty optional text as None."""
        values = {name: self[name].data for name in LOCKABLE_FIELDS}
        for name in _OPTIONAL:
            values[name] = values[name] or None
        values["kind"] = ClientKind(values["kind"])
        values["sms_opt_in"] = bool(values["sms_opt_in"])
        return values


def _same_as_stored(field) -> bool:
    """Whether a submitted value equals the stored one (as the form shows it)."""
    if isinstance(field, BooleanField):
        return (field.raw_data[0] not in field.false_values) == bool(field.object_data)
    stored = field.object_data
    stored = "" if stored is None else str(getattr(stored, "value", stored))
    return (field.raw_data[0] or "").strip() == stored


class AvatarForm(FlaskForm):
    avatar = FileField(_l("Choose a new picture"))


class ErasureForm(FlaskForm):
    reason = TextAreaField(
        _l("Anything you want to tell us (optional)"),
        filters=[strip],
        validators=[Length(max=2000, message=_l("Keep it under 2000 characters."))],
    )
