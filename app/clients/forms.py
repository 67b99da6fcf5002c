"""The billing-details fields, written once: My details and a proforma's billing form share them."""

from __future__ import annotations

from wtforms import RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, ValidationError

from app.clients.models import ClientKind
from app.clients.ro_counties import BUCHAREST, COUNTIES, county_code, county_name, sector, sector_label
from app.core.forms import strip
from app.core.i18n import _, _l


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

    A Romanian address is one an e-invoice (CIUS-RO) can carry: the county is stored as its
    ISO 3166-2 code ("Cluj" -> "RO-CJ"), and in Bucharest the city is the sector ("Sector 3"
    -> "SECTOR3"). Other countries' region and city are free text.
    """

    company_name = StringField(_l("Company name"), filters=[strip], validators=[Length(max=160)])
    tax_id = StringField(_l("VAT number / tax ID (CUI)"), filters=[strip], validators=[Length(max=40)])
    address_line1 = StringField(_l("Address"), filters=[strip], validators=[Length(max=160)])
    address_line2 = StringField(_l("Address (line 2)"), filters=[strip], validators=[Length(max=160)])
    city = StringField(_l("City"), filters=[strip], validators=[Length(max=80)])
    region = StringField(_l("County / region"), filters=[strip], validators=[Length(max=80)])
    postcode = StringField(_l("Postal code"), filters=[strip], validators=[Length(max=20)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_submitted() and self._romanian():
            # Shown as a person writes them ("Cluj", "Sector 3"); stored as codes again on save.
            if county_code(self.region.data) == BUCHAREST:
                self.city.data = sector_label(self.city.data)
            if self.region.data in COUNTIES:
                self.region.data = county_name(self.region.data)

    def _romanian(self) -> bool:
        return getattr(self, "country").data == "RO"  # noqa: B009 - each form declares its country

    def validate_city(self, field) -> None:
        if not self._romanian() or county_code(self.region.data) != BUCHAREST:
            return
        code = sector(field.data)
        if code is None:
            raise ValidationError(_("In Bucharest, give the sector as the city: Sector 1 to Sector 6."))
        field.data = code

    def validate_region(self, field) -> None:
        if not self._romanian():
            return
        if not field.data:
            return  # optional, as every address field here (an e-invoice's validation reports it)
        code = county_code(field.data)
        if code is None:
            raise ValidationError(
                _("%(text)s is not a Romanian county: enter its name, e.g. Cluj or București.", text=field.data)
            )
        field.data = code
