"""The forms of the staff, roles and own-account pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, Length

from app.core.forms import CheckboxesField, strip
from app.staff.privileges import PRIVILEGES


def _name_field(message: str) -> StringField:
    return StringField("Name", filters=[strip], validators=[DataRequired(message=message), Length(max=120)])


class StaffForm(FlaskForm):
    """A staff member's name and roles (the role choices are set by the view)."""

    name = _name_field("Enter the staff member's name.")
    roles = CheckboxesField("Roles", coerce=int)

    def with_roles(self, roles) -> StaffForm:
        self.roles.choices = [SelectChoice(role.id, role.name) for role in roles]
        return self


class InviteStaffForm(StaffForm):
    email = EmailField(
        "Email",
        filters=[strip],
        validators=[
            DataRequired(message="Enter their email address."),
            Email(message="Enter a valid email address."),
            Length(max=254),
        ],
    )


class ActionForm(FlaskForm):
    """A button that changes something (deactivate, reset 2FA, resend): CSRF only."""


class RoleForm(FlaskForm):
    name = StringField(
        "Role name", filters=[strip], validators=[DataRequired(message="Name the role."), Length(max=80)]
    )
    privileges = CheckboxesField("Privileges", choices=[SelectChoice(k, v) for k, v in PRIVILEGES.items()])


class AcceptStaffInviteForm(FlaskForm):
    password = PasswordField("Choose a password", validators=[DataRequired(message="Choose a password.")])
    confirm = PasswordField(
        "Repeat the password",
        validators=[DataRequired(message="Repeat the password."), EqualTo("password", message="The passwords differ.")],
    )


class StaffPasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(message="Enter your password.")])
    new_password = PasswordField("New password", validators=[DataRequired(message="Choose a new password.")])


class RecoveryCodesForm(FlaskForm):
    code = StringField(
        "Current code from your authenticator app",
        filters=[strip],
        validators=[DataRequired(message="Enter the code."), Length(max=20)],
    )
