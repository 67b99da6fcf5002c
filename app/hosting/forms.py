"""Adding a product to the cart."""

from __future__ import annotations

import re
import uuid

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, StringField, ValidationError
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from app.core.forms import strip
from app.core.i18n import _, _l
from app.hosting.models import BillingCycle

_DOMAIN_RE = re.compile(r"(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


class AddToCartForm(FlaskForm):
    product_id = IntegerField(validators=[DataRequired()])
    cycle = SelectField(
        _l("Billing cycle"), choices=[SelectChoice(c.value, c.lazy_label) for c in BillingCycle], default="annually"
    )
    label = StringField(
        _l("Domain name"),
        filters=[strip, lambda v: v.lower() if isinstance(v, str) else v],
        validators=[DataRequired(message=_l("Enter the domain this service is for.")), Length(max=253)],
    )

    def validate_label(self, field) -> None:
        if not _DOMAIN_RE.fullmatch(field.data or ""):
            raise ValidationError(_("Enter a domain name like example.com."))


class CartActionForm(FlaskForm):
    """Remove or checkout: a CSRF-protected button."""

    index = HiddenField()


class CheckoutForm(FlaskForm):
    """Placing the order; the key makes a double submit place it once."""

    order_key = HiddenField(validators=[Length(max=64)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.order_key.data:
            self.order_key.data = uuid.uuid4().hex
