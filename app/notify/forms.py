"""Forms of the notifications archive: the type/date filter and the email subscriptions."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional, ValidationError

from app.core.forms import CheckboxesField
from app.core.i18n import _, _l
from app.notify import NOTIFICATION_TYPES

#: The type filter: the subscribable email types, the security/account emails, and SMS.
TYPE_CHOICES = [
    SelectChoice("", _l("All messages")),
    SelectChoice("invoices", _l("Emails: invoices")),
    SelectChoice("payments", _l("Emails: payments")),
    SelectChoice("service_status", _l("Emails: service status")),
    SelectChoice("newsletter", _l("Emails: newsletter")),
    SelectChoice("account", _l("Emails: account and security")),
    SelectChoice("sms", _l("SMS")),
]


class NotificationSettingsForm(FlaskForm):
    notification_types = CheckboxesField(
        _l("Send me emails about"), choices=[SelectChoice(key, label) for key, label in NOTIFICATION_TYPES.items()]
    )


class ArchiveFilterForm(FlaskForm):
    """The list's filters, read from the query string (a GET form changes nothing: no CSRF)."""

    class Meta:
        csrf = False

    type = SelectField(_l("Type"), choices=TYPE_CHOICES, default="")
    since = DateField(_l("From"), validators=[Optional()])
    until = DateField(_l("To"), validators=[Optional()])

    def validate_until(self, field) -> None:
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError(_("The end date is before the start date."))
