"""Form helpers every domain uses: country choices, trimming, phone numbers, checkboxes, the one-time code form."""

from __future__ import annotations

import phonenumbers
from babel import Locale
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length
from wtforms.validators import ValidationError as FieldInvalid
from wtforms.widgets import CheckboxInput, ListWidget

from app.core.i18n import _, _l, current_language


def country_choices(locale: str | None = None) -> list[SelectChoice]:
    """ISO 3166 two-letter countries, sorted by their name in `locale` (default: the reader's language)."""
    territories = Locale.parse(locale or current_language()).territories
    codes = [
        code
        for code in territories
        if len(code) == 2 and code.isalpha() and code not in {"ZZ", "EU", "UN", "EZ", "QO", "XA", "XB", "XK"}
    ]
    return [SelectChoice(code, territories[code]) for code in sorted(codes, key=territories.get)]


def strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def to_e164(raw: str, region: str | None) -> str:
    """'0722 123 456' in RO -> '+40722123456'. Raises ValueError if not a valid number."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise ValueError(_("Enter a phone number like +40 722 123 456.")) from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(_("This is not a valid phone number."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class CodeForm(FlaskForm):
    code = StringField(
        _l("Code from your authenticator app, or a recovery code"),
        filters=[strip],
        validators=[DataRequired(message=_l("Enter the code.")), Length(max=20)],
    )


class EmailPasswordForm(FlaskForm):
    """A sign-in: client users (app.auth.forms.LoginForm adds "keep me signed in") and staff."""

    email = EmailField(
        _l("Email"),
        filters=[strip],
        validators=[DataRequired(message=_l("Enter your email address.")), Length(max=254)],
    )
    password = PasswordField(
        _l("Password"), validators=[DataRequired(message=_l("Enter your password.")), Length(max=256)]
    )


def normalize_phone(field, country: str | None) -> None:
    """A phone field as E.164 (empty: None), in the country's format when it has no +prefix.
    Raises the form's ValidationError with what is wrong with the number."""
    if not field.data:
        field.data = None
        return
    try:
        field.data = to_e164(field.data, country or None)
    except ValueError as exc:
        raise FieldInvalid(str(exc)) from None


class CheckboxesField(SelectMultipleField):
    """Several choices as checkboxes (templates: _macros/forms.html `checkboxes`); a value
    outside the choices is an error on the field."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()
