"""Forms of the trusted users area."""

from __future__ import annotations

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, Length, StopValidation, ValidationError

from app.access.policy import PERMISSIONS
from app.core.forms import CheckboxesField, strip
from app.core.i18n import _, _l
from app.trusted_users.services import NOTIFICATION_TYPES, Access


class Required(DataRequired):
    """DataRequired whose message is text of the reader's language, not a lazy string:
    a lazy string is HTML to Jinja (its `__html__`), so its apostrophe would go unescaped."""

    def __call__(self, form, field) -> None:
        try:
            super().__call__(form, field)
        except StopValidation as stop:
            raise StopValidation(str(stop.args[0]) if stop.args else None) from None


def check_password(field) -> None:
    """The same length rules as at sign-up."""
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(field.data or "") < minimum:
        raise ValidationError(_("Use at least %(num)d characters.", num=minimum))
    if len(field.data) > 256:
        raise ValidationError(_("Use at most %(num)d characters.", num=256))


class TrustedUserForm(FlaskForm):
    """Edit a trusted user: name, permissions and notifications."""

    name = StringField(
        _l("Name"), filters=[strip], validators=[Required(message=_l("Enter the person's name.")), Length(max=120)]
    )
    permissions = CheckboxesField(_l("Permissions"), choices=[SelectChoice(k, v) for k, v in PERMISSIONS.items()])
    notification_types = CheckboxesField(
        _l("Email notifications"), choices=[SelectChoice(k, v) for k, v in NOTIFICATION_TYPES.items()]
    )

    def access(self) -> Access:
        return Access(list(self.permissions.data or []), list(self.notification_types.data or []))


class NewTrustedUserForm(TrustedUserForm):
    """Add a trusted user: with a password the owner chooses, or invited by email."""

    email = EmailField(
        _l("Email"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Enter their email address.")),
            Email(message=_l("Enter a valid email address.")),
            Length(max=254),
        ],
    )
    send_invite = BooleanField(_l("Send an invite link instead: they choose their own password"))
    password = PasswordField(_l("Password"))

    def validate_password(self, field) -> None:
        if self.send_invite.data:
            field.data = None
            return
        if not field.data:
            raise ValidationError(_("Choose a password, or send an invite link instead."))
        check_password(field)


class AcceptInviteForm(FlaskForm):
    """The invited user chooses their password."""

    password = PasswordField(_l("Choose a password"), validators=[DataRequired(message=_l("Choose a password."))])
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[
            DataRequired(message=_l("Repeat the password.")),
            EqualTo("password", message=_l("The passwords differ.")),
        ],
    )

    def validate_password(self, field) -> None:
        check_password(field)
