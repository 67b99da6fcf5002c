"""The profile's Settings tab: which My details fields the client may edit, and the
client's own automation settings (billing-run days, suspension, reminders, SMS).
Seeing it needs "view clients"; saving it (admin.client_settings) "edit clients"."""

from __future__ import annotations

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import NumberRange, Optional

from app.clients.models import Client
from app.core.forms import CheckboxesField
from app.core.i18n import _l
from app.profile.services import (
    AUTOMATION_DAYS,
    AUTOMATION_SWITCHES,
    LOCKABLE_FIELDS,
    MAX_AUTOMATION_DAYS,
)

_SWITCH = {"": None, "on": True, "off": False}
_DAYS_LABELS = {
    "renewal_days_before": _l("Renewal proforma, days before the due date"),
    "suspend_days_after": _l("Suspend, days after the due date"),
    "terminate_days_after": _l("Terminate, days after the due date"),
}


def _days_field(name: str) -> IntegerField:
    return IntegerField(
        _DAYS_LABELS[name],
        validators=[
            Optional(),
            NumberRange(
                0,
                MAX_AUTOMATION_DAYS,
                _l("Enter a number of days from 0 to %(max)s, or leave it empty.", max=MAX_AUTOMATION_DAYS),
            ),
        ],
    )


def _switch_field(name: str) -> SelectField:
    return SelectField(
        AUTOMATION_SWITCHES[name],
        choices=[SelectChoice("", _l("Default (on)")), SelectChoice("on", _l("On")), SelectChoice("off", _l("Off"))],
        filters=[lambda value: value or ""],  # not sent: the default
    )


class ClientSettingsForm(FlaskForm):
    locked_fields = CheckboxesField(
        _l("Fields the client cannot change"),
        choices=[SelectChoice(name, label) for name, label in LOCKABLE_FIELDS.items()],
    )
    renewal_days_before = _days_field("renewal_days_before")
    suspend_days_after = _days_field("suspend_days_after")
    terminate_days_after = _days_field("terminate_days_after")
    auto_suspend = _switch_field("auto_suspend")
    send_reminders = _switch_field("send_reminders")
    send_sms = _switch_field("send_sms")

    @classmethod
    def of(cls, client: Client) -> ClientSettingsForm:
        """The form showing `client`'s stored settings."""
        switches = {name: {None: "", True: "on", False: "off"}[getattr(client, name)] for name in AUTOMATION_SWITCHES}
        days = {name: getattr(client, name) for name in AUTOMATION_DAYS}
        return cls(formdata=None, locked_fields=list(client.locked_fields or []), **days, **switches)

    def overrides(self) -> dict[str, int | bool | None]:
        return {name: self[name].data for name in AUTOMATION_DAYS} | {
            name: _SWITCH[self[name].data] for name in AUTOMATION_SWITCHES
        }


def settings(client: Client, form: ClientSettingsForm | None = None) -> dict:
    """The Settings tab's context: the form, and the global values the empty fields mean."""
    defaults = {name: current_app.config[key] for name, key in AUTOMATION_DAYS.items()}
    return {"form": form or ClientSettingsForm.of(client), "defaults": defaults}
