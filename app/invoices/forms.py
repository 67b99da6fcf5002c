"""The billing-details form of a proforma."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from app.clients.forms import BillingFields, kind_field
from app.clients.models import ClientKind
from app.core.forms import country_choices, strip
from app.core.i18n import _, _l

NEW_PAYER = "new"


class BillingDetailsForm(BillingFields, FlaskForm):
    payer = SelectField(_l("Bill to"), default=NEW_PAYER)
    kind = kind_field(_l("Billed as"), _l("Legal entity"), default=ClientKind.PERSON.value)
    name = StringField(_l("Full name"), filters=[strip], validators=[Length(max=120)])
    country = SelectField(_l("Country"))
    save_as_payer = BooleanField(_l("Save these details for future invoices"))

    def __init__(self, payers, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.payer.choices = [
            SelectChoice(str(p.id), f"{p.display_name} ({p.country}{', ' + p.tax_id if p.tax_id else ''})")
            for p in payers
        ] + [SelectChoice(NEW_PAYER, _("New billing details..."))]
        self.country.choices = [SelectChoice("", _("Choose the country")), *country_choices()]

    @property
    def new_details(self) -> bool:
        return self.payer.data == NEW_PAYER

    def validate(self, extra_validators=None) -> bool:
        if not self.new_details:
            # A saved payer: the detail fields are not used, only the choice is checked.
            return self.csrf_token.validate(self) and self.payer.validate(self)
        if not super().validate(extra_validators):
            return False
        if not self.name.data:
            self.name.errors.append(_("Enter the name of the person (or the company's contact)."))
        if not self.country.data:
            self.country.errors.append(_("Choose the country."))
        return not (self.name.errors or self.country.errors)
