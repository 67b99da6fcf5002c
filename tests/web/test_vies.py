"""Reverse charge only for a VAT number the EU VIES register confirmed (issue 9)."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from app.core.types import utcnow
from app.extensions import db
from app.invoices.models import Invoice, TaxMode, VatCheck, VatCheckStatus
from app.notify.outbox import flush_outbox
from tests.helpers import csrf_token, login, make_owner, make_proforma, pay


def invoice(app, number: str) -> Invoice:
    with app.app_context():
        row = db.session.scalar(sa.select(Invoice).where(Invoice.number == number))
        db.session.expunge(row)
        return row


def checks(app, vat_number: str) -> list[VatCheck]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(VatCheck)
            .where(VatCheck.country == vat_number[:2], VatCheck.number == vat_number[2:])
            .order_by(VatCheck.id)
        ).all()
        db.session.expunge_all()
        return list(rows)


def rebill_to_german_company(client, number: str, tax_id: str):
    data = {
        "csrf_token": csrf_token(client, f"/invoices/{number}/billing"),
        "payer": "new",
        "kind": "organization",
        "name": "Hans Müller",
        "company_name": "Müller Webdesign GmbH",
        "tax_id": tax_id,
        "address_line1": "Hauptstraße 1",
        "city": "Berlin",
        "postcode": "10115",
        "country": "DE",
    }
    return client.post(f"/invoices/{number}/billing", data=data)


def test_a_checksum_valid_number_nobody_registered_is_refused_beside_the_field(app, client):
    # The issue: a private client in Romania re-bills a proforma to an invented German company.
    owner = make_owner(app)
    number = make_proforma(app, owner.client_id, 1000)
    before = invoice(app, number)
    assert (before.tax_mode, before.total_minor) == (TaxMode.STANDARD, 1210)
    login(client)

    response = rebill_to_german_company(client, number, "DE100000008")

    assert response.status_code == 422
    shown = re.search(r'id="tax_id-msg">\s*<p class="error">([^<]+)</p>', response.get_data(as_text=True))
    assert shown and "The EU VIES service says DE100000008 is not a registered VAT number" in shown.group(1)
    after = invoice(app, number)
    assert (after.tax_mode, after.tax_rate_bp, after.total_minor) == (TaxMode.STANDARD, 2100, 1210)
    assert (after.buyer_kind, after.buyer_country, after.buyer_tax_id) == (
        before.buyer_kind,
        before.buyer_country,
        before.buyer_tax_id,
    )
    assert [c.status for c in checks(app, "DE100000008")] == [VatCheckStatus.INVALID]


def test_a_confirmed_number_gets_reverse_charge_and_the_answer_is_kept(app, client):
    owner = make_owner(app)
    number = make_proforma(app, owner.client_id, 1000)
    login(client)

    response = rebill_to_german_company(client, number, "DE136695976")  # in VIES_OFFLINE_VALID for tests

    assert response.status_code == 302
    changed = invoice(app, number)
    assert (changed.tax_mode, changed.tax_minor, changed.total_minor) == (TaxMode.REVERSE_CHARGE, 0, 1000)
    [check] = checks(app, "DE136695976")
    assert check.status is VatCheckStatus.VALID
    assert check.name == "Offline test trader DE136695976" and check.consultation_number.startswith("OFFLINE-")
    page = client.get(f"/invoices/{number}").get_data(as_text=True)
    assert "Reverse charge" in page and 'id="vat-notice"' not in page

    # The answer stands for VIES_FRESH_DAYS: a second proforma reuses it without asking again.
    second = make_proforma(app, owner.client_id, 500)
    assert rebill_to_german_company(client, second, "DE136695976").status_code == 302
    assert invoice(app, second).tax_mode is TaxMode.REVERSE_CHARGE
    assert len(checks(app, "DE136695976")) == 1


def test_vies_down_charges_vat_says_so_and_a_later_confirmation_recomputes_the_open_proforma(app, client):
    app.config.update(VIES_OFFLINE_VALID="", VIES_OFFLINE_UNAVAILABLE="DE136695976")
    owner = make_owner(app)
    number = make_proforma(app, owner.client_id, 1000)
    paid_before = make_proforma(app, owner.client_id, 2000)
    login(client)

    assert rebill_to_german_company(client, number, "DE136695976").status_code == 302
    assert rebill_to_german_company(client, paid_before, "DE136695976").status_code == 302

    charged = invoice(app, number)
    assert (charged.tax_mode, charged.tax_rate_bp, charged.total_minor) == (TaxMode.STANDARD, 1900, 1190)
    assert charged.buyer_tax_id == "DE136695976"
    [check] = checks(app, "DE136695976")
    assert (check.status, check.error) == (VatCheckStatus.UNKNOWN, "MS_UNAVAILABLE")
    notice = "VAT is charged until the EU VIES service confirms VAT number DE136695976."
    assert notice in client.get(f"/invoices/{number}").get_data(as_text=True)
    assert notice in client.get(f"/invoices/{number}/billing").get_data(as_text=True)
    tax_invoice = pay(app, paid_before)  # paid with VAT: its tax invoice never changes

    # Too soon to ask again: the sweeper leaves the number alone.
    with app.app_context():
        flush_outbox()
    assert len(checks(app, "DE136695976")) == 1

    # VIES is back and confirms the number; the sweeper asks once VIES_RETRY_MINUTES have passed.
    app.config.update(VIES_OFFLINE_VALID="DE136695976", VIES_OFFLINE_UNAVAILABLE="")
    with app.app_context():
        db.session.execute(sa.update(VatCheck).values(checked_at=utcnow() - timedelta(minutes=16)))
        db.session.commit()
        flush_outbox()

    assert [c.status for c in checks(app, "DE136695976")] == [VatCheckStatus.UNKNOWN, VatCheckStatus.VALID]
    recomputed = invoice(app, number)
    assert (recomputed.tax_mode, recomputed.tax_minor, recomputed.total_minor) == (TaxMode.REVERSE_CHARGE, 0, 1000)
    assert "Reverse charge" in (recomputed.tax_note or "")
    assert notice not in client.get(f"/invoices/{number}").get_data(as_text=True)
    kept = invoice(app, tax_invoice)
    assert (kept.tax_mode, kept.total_minor) == (TaxMode.STANDARD, 2380)
    assert invoice(app, paid_before).total_minor == 2380
