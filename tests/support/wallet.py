"""Wallet and payment helpers: test cards, the add-funds and pay forms, bank-transfer proofs."""

from __future__ import annotations

import io
import re
from datetime import date

from tests.helpers import csrf_from, csrf_token

VISA = "4242 4242 4242 4242"


MASTERCARD = "5555555555554444"


NEXT_YEAR = str(date.today().year + 1)[2:]


def form_values(html: str) -> dict:
    return {
        "csrf_token": csrf_from(html),
        "idempotency_key": re.search(r'name="idempotency_key" type="hidden" value="([^"]*)"', html).group(1),
    }


def card(number=VISA, month="12", year=NEXT_YEAR, cvc="123") -> dict:
    return {"saved_card": "new", "number": number, "exp_month": month, "exp_year": year, "cvc": cvc}


def add_funds(client, amount="100.00", **fields):
    data = {**form_values(client.get("/wallet/add-funds").get_data(as_text=True)), "amount": amount, "method": "card"}
    data.update(card())
    data.update(fields)
    return client.post("/wallet/add-funds", data=data), data


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def start_transfer(client, amount="50.00") -> tuple[int, str]:
    data = {**form_values(client.get("/wallet/add-funds").get_data(as_text=True)), "amount": amount, "method": "bank"}
    response = client.post("/wallet/add-funds", data=data)
    transfer_id = int(response.location.rsplit("/", 1)[1])
    return transfer_id, client.get(response.location).get_data(as_text=True)


def upload(client, transfer_id: int, content: bytes, name: str):
    token = csrf_token(client, f"/wallet/transfers/{transfer_id}")
    return client.post(
        f"/wallet/transfers/{transfer_id}",
        data={"csrf_token": token, "proof": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def pay_form(client, *numbers, **fields):
    """Open the pay page as the browser would (with the balance choice made), then submit it."""
    query = "&".join(f"invoice={n}" for n in numbers) + "&refresh=1"
    if fields.get("use_balance"):
        query += "&use_balance=y"
    html = client.get(f"/invoices/pay?{query}").get_data(as_text=True)
    expected = re.search(r'name="expected_card_minor" type="hidden" value="(\d*)"', html).group(1)
    data = {**form_values(html), "invoice": list(numbers), "expected_card_minor": expected}
    data.update(fields)
    return client.post("/invoices/pay", data=data)
