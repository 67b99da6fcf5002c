"""Sign-up and login forms."""

from __future__ import annotations

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, ValidationError

from app.clients.forms import kind_field
from app.clients.models import ClientKind
from app.core.forms import EmailPasswordForm, country_choices, normalize_phone, strip
from app.core.i18n import _, _l
from app.notify.services import sms_reach_problem


class RegisterForm(FlaskForm):
    name = StringField(_l("Full name"), validators=[DataRequired(message=_l("Enter your full name.")), Length(max=120)])
    email = EmailField(
        _l("Email"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Enter your email address.")),
            Email(message=_l("Enter a valid email address.")),
            Length(max=254),
        ],
    )
    password = PasswordField(_l("Password"), validators=[DataRequired(message=_l("Choose a password."))])
    kind = kind_field(_l("Account type"), _l("Company or organization"), default=ClientKind.PERSON.value)
    company_name = StringField(_l("Company name"), validators=[Length(max=160)])
    country = SelectField(_l("Country"), validators=[DataRequired(message=_l("Choose your country."))])
    phone = StringField(_l("Mobile phone"), validators=[Length(max=32)])
    sms_opt_in = BooleanField(_l("Send me SMS alerts for new invoices and suspensions"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = [SelectChoice("", _l("Choose your country")), *country_choices()]
        if not self.country.data:
            self.country.data = current_app.config["DEFAULT_COUNTRY"]

    def validate_password(self, field) -> None:
        minimum = current_app.config["PASSWORD_MIN_LENGTH"]
        if len(field.data) < minimum:
            raise ValidationError(_("Use at least %(num)d characters.", num=minimum))
        if len(field.data) > 256:
            raise ValidationError(_("Use at most 256 characters."))

    def validate_company_name(self, field) -> None:
        if self.kind.data == ClientKind.ORGANIZATION.value and not (field.data or "").strip():
            raise ValidationError(_("Enter the company name for a company account."))

    def validate_phone(self, field) -> None:
        if not field.data and self.sms_opt_in.data:
            field.data = None
            raise ValidationError(_("Enter a mobile number to receive SMS alerts."))
        normalize_phone(field, self.country.data)

    def validate_sms_opt_in(self, field) -> None:
        # Runs after validate_phone (field order): the number is E.164 by now.
        if field.data and self.phone.data and not self.phone.errors and (problem := sms_reach_problem(self.phone.data)):
            raise ValidationError(problem)


class LoginForm(EmailPasswordForm):
    remember = BooleanField(_l("Keep me signed in on this device"), default=False)


class ConfirmSignUpForm(FlaskForm):
    """The button on the page a sign-up link opens (CSRF only)."""


class ForgotPasswordForm(FlaskForm):
    email = EmailField(
        _l("Email"),
        filters=[strip],
        validators=[DataRequired(message=_l("Enter your email address.")), Length(max=254)],
    )


class ResetPasswordForm(FlaskForm):
    new_password = PasswordField(_l("New password"), validators=[DataRequired(message=_l("Choose a new password."))])


class SwitchAccountForm(FlaskForm):
    """ "Sign out and continue as ...": only a POST with the CSRF token switches accounts."""
