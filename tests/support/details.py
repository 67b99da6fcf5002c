"""My-details helpers: the whole form of a fresh person account, posting it, reading errors."""

from __future__ import annotations

import re
from html import unescape

from tests.helpers import csrf_token

# The whole form as a browser posts it for a fresh person account (make_owner's defaults).
PERSON_FORM = {
    "name": "Ion Ionescu",
    "phone": "",
    "language": "",  # the account's language
    "kind": "person",
    "billing_name": "Ion Ionescu",
    "company_name": "",
    "tax_id": "",
    "address_line1": "",
    "address_line2": "",
    "city": "",
    "region": "",
    "postcode": "",
    "country": "RO",
}


def post_details(client, form: dict, *, omit: tuple[str, ...] = (), htmx: bool = False, **changes):
    data = {k: v for k, v in (form | changes).items() if k not in omit}
    data["csrf_token"] = csrf_token(client, "/account/details")
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post("/account/details", data=data, headers=headers)


def error_beside(html: str, field: str) -> str | None:
    found = re.search(rf'id="{field}-msg">\s*<p class="error">([^<]+)</p>', html)
    return unescape(found.group(1)) if found else None
