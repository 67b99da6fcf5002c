"""The billing-details fields, written once: My details and a proforma's billing form share them."""

from __future__ import annotations

from wtforms import RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from app.clients.models import ClientKind
from app.core.forms import strip
from app.core.i18n import _l


def kind_field(label: str, organization: str, **kwargs) -> RadioField:
    """Person or organization: the account type (or who an invoice is billed as)."""
    choices = [
        SelectChoice(ClientKind.PERSON.value, _l("Person")),
        SelectChoice(ClientKind.ORGANIZATION.value, organization),
    ]
    return RadioField(label, choices=choices, **kwargs)


class BillingFields:
    """The address and tax fields of a client or payer (mixed into a FlaskForm).

    The name, account type and country differ by form (their labels and what is
    required), so each form declares those itself; templates render these with
    the `billing_fields` macro of _macros/forms.html.
    """

    company_name = StringField(_l("Company name"), filters=[strip], validators=[Length(max=160)])
    tax_id = StringField(_l("VAT number / tax ID (CUI)"), filters=[strip], validators=[Length(max=40)])
    address_line1 = StringField(_l("Address"), filters=[strip], validators=[Length(max=160)])
    address_line2 = StringField(_l("Address (line 2)"), filters=[strip], validators=[Length(max=160)])
    city = StringField(_l("City"), filters=[strip], validators=[Length(max=80)])
    region = StringField(_l("County / region"), filters=[strip], validators=[Length(max=80)])
    postcode = StringField(_l("Postal code"), filters=[strip], validators=[Length(max=20)])
