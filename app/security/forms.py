"""Forms of the Security page, 2FA, password reset and re-authentication."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length

from app.core.forms import strip


class EnableTwoFactorForm(FlaskForm):
    secret = HiddenField()
    code = StringField(
        "6-digit code from the app",
        filters=[strip],
        validators=[DataRequired(message="Enter the code."), Length(max=10)],
    )


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(message="Enter your password.")])
    new_password = PasswordField("New password", validators=[DataRequired(message="Choose a new password.")])


class EmailChangeForm(FlaskForm):
    new_email = EmailField(
        "New email",
        filters=[strip],
        validators=[DataRequired(message="Enter the new address."), Email(message="Enter a valid email address.")],
    )
    password = PasswordField("Current password", validators=[DataRequired(message="Enter your password.")])


class AllowlistForm(FlaskForm):
    ip_allowlist = TextAreaField(
        "Allowed IP addresses", filters=[strip], validators=[Length(max=4000)], render_kw={"rows": 4}
    )
    confirm_lockout = BooleanField("I know my current address is not in the list")


class LoginAlertsForm(FlaskForm):
    login_alerts = BooleanField("Email me every time someone signs in to my account")


class EndSessionForm(FlaskForm):
    session_id = HiddenField()


class ReauthenticateForm(FlaskForm):
    password = PasswordField("Password", validators=[DataRequired(message="Enter your password.")])
