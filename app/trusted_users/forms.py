"""Forms of the trusted users area."""

from __future__ import annotations

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from app.access.policy import PERMISSIONS
from app.core.forms import CheckboxesField, strip
from app.trusted_users.services import NOTIFICATION_TYPES, Access


def check_password(field) -> None:
    """The same length rules as at sign-up."""
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(field.data or "") < minimum:
        raise ValidationError(f"Use at least {minimum} characters.")
    if len(field.data) > 256:
        raise ValidationError("Use at most 256 characters.")


class TrustedUserForm(FlaskForm):
    """Edit a trusted user: name, permissions and notifications."""

    name = StringField(
        "Name", filters=[strip], validators=[DataRequired(message="Enter the person's name."), Length(max=120)]
    )
    permissions = CheckboxesField("Permissions", choices=[SelectChoice(k, v) for k, v in PERMISSIONS.items()])
    notification_types = CheckboxesField(
        "Email notifications", choices=[SelectChoice(k, v) for k, v in NOTIFICATION_TYPES.items()]
    )

    def access(self) -> Access:
        return Access(list(self.permissions.data or []), list(self.notification_types.data or []))


class NewTrustedUserForm(TrustedUserForm):
    """Add a trusted user: with a password the owner chooses, or invited by email."""

    email = EmailField(
        "Email",
        filters=[strip],
        validators=[
            DataRequired(message="Enter their email address."),
            Email(message="Enter a valid email address."),
            Length(max=254),
        ],
    )
    send_invite = BooleanField("Send an invite link instead: they choose their own password")
    password = PasswordField("Password")

    def validate_password(self, field) -> None:
        if self.send_invite.data:
            field.data = None
            return
        if not field.data:
            raise ValidationError("Choose a password, or send an invite link instead.")
        check_password(field)


class AcceptInviteForm(FlaskForm):
    """The invited user chooses their password."""

    password = PasswordField("Choose a password", validators=[DataRequired(message="Choose a password.")])
    confirm = PasswordField(
        "Repeat the password",
        validators=[DataRequired(message="Repeat the password."), EqualTo("password", message="The passwords differ.")],
    )

    def validate_password(self, field) -> None:
        check_password(field)
