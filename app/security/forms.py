"""Forms of the Security page, 2FA, password reset and re-authentication."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length

from app.core.forms import strip
from app.core.i18n import _l


class EnableTwoFactorForm(FlaskForm):
    secret = HiddenField()
    code = StringField(
        _l("6-digit code from the app"),
        filters=[strip],
        validators=[DataRequired(message=_l("Enter the code.")), Length(max=10)],
    )


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired(message=_l("Enter your password."))]
    )
    new_password = PasswordField(_l("New password"), validators=[DataRequired(message=_l("Choose a new password."))])


class EmailChangeForm(FlaskForm):
    new_email = EmailField(
        _l("New email"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Enter the new address.")),
            Email(message=_l("Enter a valid email address.")),
        ],
    )
    password = PasswordField(_l("Current password"), validators=[DataRequired(message=_l("Enter your password."))])


class AllowlistForm(FlaskForm):
    ip_allowlist = TextAreaField(
        _l("Allowed IP addresses"), filters=[strip], validators=[Length(max=4000)], render_kw={"rows": 4}
    )
    confirm_lockout = BooleanField(_l("I know my current address is not in the list"))


class LoginAlertsForm(FlaskForm):
    login_alerts = BooleanField(_l("Email me every time someone signs in to my account"))


class EndSessionForm(FlaskForm):
    session_id = HiddenField()


class ReauthenticateForm(FlaskForm):
    password = PasswordField(_l("Password"), validators=[DataRequired(message=_l("Enter your password."))])
