"""The forms of the staff, roles and own-account pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, Length

from app.core.forms import CheckboxesField, strip
from app.core.i18n import _l
from app.staff.privileges import PRIVILEGES


def _name_field(message) -> StringField:
    return StringField(_l("Name"), filters=[strip], validators=[DataRequired(message=message), Length(max=120)])


class StaffForm(FlaskForm):
    """A staff member's name and roles (the role choices are set by the view)."""

    name = _name_field(_l("Enter the staff member's name."))
    roles = CheckboxesField(_l("Roles"), coerce=int)

    def with_roles(self, roles) -> StaffForm:
        self.roles.choices = [SelectChoice(role.id, role.name) for role in roles]
        return self


class InviteStaffForm(StaffForm):
    email = EmailField(
        _l("Email"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Enter their email address.")),
            Email(message=_l("Enter a valid email address.")),
            Length(max=254),
        ],
    )


class ActionForm(FlaskForm):
    """A button that changes something (deactivate, reset 2FA, resend): CSRF only."""


class RoleForm(FlaskForm):
    name = StringField(
        _l("Role name"), filters=[strip], validators=[DataRequired(message=_l("Name the role.")), Length(max=80)]
    )
    privileges = CheckboxesField(_l("Privileges"), choices=[SelectChoice(k, v) for k, v in PRIVILEGES.items()])


class AcceptStaffInviteForm(FlaskForm):
    password = PasswordField(_l("Choose a password"), validators=[DataRequired(message=_l("Choose a password."))])
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[
            DataRequired(message=_l("Repeat the password.")),
            EqualTo("password", message=_l("The passwords differ.")),
        ],
    )


class StaffPasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired(message=_l("Enter your password."))]
    )
    new_password = PasswordField(_l("New password"), validators=[DataRequired(message=_l("Choose a new password."))])


class RecoveryCodesForm(FlaskForm):
    code = StringField(
        _l("Current code from your authenticator app"),
        filters=[strip],
        validators=[DataRequired(message=_l("Enter the code.")), Length(max=20)],
    )
