"""The forms of the profile's account actions: login as client, set a password, send a
reset link, change the currency."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField, TextAreaField, ValidationError
from wtforms.validators import DataRequired, Length

from app.clients.models import Client, UserStatus
from app.core.forms import strip
from app.core.i18n import _, _l, ngettext
from app.security.impersonation import durations


def _user_choices(client: Client) -> list[tuple[int, str]]:
    """The client's users who can sign in: the owner first, then the trusted users."""
    users = sorted(
        (user for user in client.users if user.status is UserStatus.ACTIVE),
        key=lambda user: (not user.is_owner, user.id),
    )
    return [
        (
            user.id,
            _("%(email)s (owner)", email=user.email)
            if user.is_owner
            else _("%(email)s (trusted user)", email=user.email),
        )
        for user in users
    ]


class LoginAsForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason"),
        filters=[strip],
        validators=[DataRequired(_l("Say why you need to sign in as this client.")), Length(max=500)],
        description=_l("Kept in the audit log, and told to the client's owner."),
    )
    minutes = SelectField(_l("For"), coerce=int)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.minutes.choices = [
            (minutes, ngettext("%(num)d minute", "%(num)d minutes", minutes)) for minutes in durations()
        ]


class _UserForm(FlaskForm):
    user_id = SelectField(_l("User"), coerce=int)

    @classmethod
    def for_client(cls, client: Client, **kwargs):
        form = cls(**kwargs)
        form.user_id.choices = _user_choices(client)
        return form

    def user(self, client: Client):
        return next(user for user in client.users if user.id == self.user_id.data)


class SetPasswordForm(_UserForm):
    new_password = PasswordField(_l("New password"), validators=[DataRequired(_l("Enter the new password."))])


class SendResetForm(_UserForm):
    pass


class CurrencyForm(FlaskForm):
    currency = StringField(
        _l("New currency"),
        filters=[strip, lambda value: value.upper() if value else value],
        validators=[
            DataRequired(_l("Enter a currency code, like EUR.")),
            Length(min=3, max=3, message=_l("Three letters, like EUR.")),
        ],
    )
    recalculate = BooleanField(_l("Recalculate open proformas and service prices at a rate"))
    rate = StringField(_l("Rate (1 old = rate new)"), filters=[strip])

    def rate_value(self) -> Decimal | None:
        """The rate when recalculating (None otherwise). Raises ValidationError beside the field."""
        if not self.recalculate.data:
            return None
        try:
            rate = Decimal(self.rate.data or "")
        except InvalidOperation:
            rate = None
        if rate is None or not rate.is_finite() or rate <= 0 or abs(rate.as_tuple().exponent) > 8:
            message = _("Enter a rate greater than zero, like 4.9751.")
            self.rate.errors = [*self.rate.errors, message]
            raise ValidationError(message)
        return rate
