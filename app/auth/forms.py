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
from app.notify.services import sms_reach_problem


class RegisterForm(FlaskForm):
    name = StringField("Full name", validators=[DataRequired(message="Enter your full name."), Length(max=120)])
    email = EmailField(
        "Email",
        filters=[strip],
        validators=[
            DataRequired(message="Enter your email address."),
            Email(message="Enter a valid email address."),
            Length(max=254),
        ],
    )
    password = PasswordField("Password", validators=[DataRequired(message="Choose a password.")])
    kind = kind_field("Account type", "Company or organization", default=ClientKind.PERSON.value)
    company_name = StringField("Company name", validators=[Length(max=160)])
    country = SelectField("Country", validators=[DataRequired(message="Choose your country.")])
    phone = StringField("Mobile phone", validators=[Length(max=32)])
    sms_opt_in = BooleanField("Send me SMS alerts for new invoices and suspensions")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = [SelectChoice("", "Choose your country"), *country_choices()]
        if not self.country.data:
            self.country.data = current_app.config["DEFAULT_COUNTRY"]

    def validate_password(self, field) -> None:
        minimum = current_app.config["PASSWORD_MIN_LENGTH"]
        if len(field.data) < minimum:
            raise ValidationError(f"Use at least {minimum} characters.")
        if len(field.data) > 256:
            raise ValidationError("Use at most 256 characters.")

    def validate_company_name(self, field) -> None:
        if self.kind.data == ClientKind.ORGANIZATION.value and not (field.data or "").strip():
            raise ValidationError("Enter the company name for a company account.")

    def validate_phone(self, field) -> None:
        if not field.data and self.sms_opt_in.data:
            field.data = None
            raise ValidationError("Enter a mobile number to receive SMS alerts.")
        normalize_phone(field, self.country.data)

    def validate_sms_opt_in(self, field) -> None:
        # Runs after validate_phone (field order): the number is E.164 by now.
        if field.data and self.phone.data and not self.phone.errors and (problem := sms_reach_problem(self.phone.data)):
            raise ValidationError(problem)


class LoginForm(EmailPasswordForm):
    remember = BooleanField("Keep me signed in on this device", default=False)


class ConfirmSignUpForm(FlaskForm):
    """The button on the page a sign-up link opens (CSRF only)."""


class ForgotPasswordForm(FlaskForm):
    email = EmailField(
        "Email", filters=[strip], validators=[DataRequired(message="Enter your email address."), Length(max=254)]
    )


class ResetPasswordForm(FlaskForm):
    new_password = PasswordField("New password", validators=[DataRequired(message="Choose a new password.")])


class SwitchAccountForm(FlaskForm):
    """ "Sign out and continue as ...": only a POST with the CSRF token switches accounts."""
