"""The wallet: adding funds by card and bank transfer, paying invoices, statements."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from app.extensions import db
from app.invoices.models import Invoice, InvoiceStatus
from app.staff import privileges as P
from app.wallet.models import BankTransfer, LedgerEntry, Payment, PaymentStatus, SavedCard, TransferStatus
from tests.helpers import balance, client_today, credit, csrf_from, login, make_owner, make_proforma, make_service
from tests.support.staff import make_staff, sign_in_staff
from tests.support.wallet import (
    MASTERCARD,
    PDF,
    add_funds,
    card,
    form_values,
    pay_form,
    start_transfer,
    upload,
)

DECLINED = "4000000000000002"
AMEX = "378282246310005"


def error_beside(html: str, field: str) -> str | None:
    found = re.search(rf'id="{field}-msg">\s*<p class="error">([^<]+)</p>', html)
    return found.group(1) if found else None


def counts(app) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.scalar(sa.select(sa.func.count(LedgerEntry.id))),
            db.session.scalar(sa.select(sa.func.count(Payment.id))),
        )


# --- adding funds by card ---------------------------------------------------------------


def test_visa_test_card_credits_exactly_the_amount_once(app, client, owner):
    login(client)
    response, data = add_funds(client, "150.00")

    assert response.status_code == 302 and response.location == "/wallet"
    assert balance(app, owner.client_id) == 15000
    page = client.get("/wallet").get_data(as_text=True)
    assert "€150.00" in page and "Visa •••• 4242" in page

    replay = client.post("/wallet/add-funds", data=data)  # the same form posted again
    assert replay.status_code == 302
    assert balance(app, owner.client_id) == 15000
    assert counts(app) == (1, 1)


def test_mastercard_is_accepted_and_can_be_saved_as_a_token(app, client, owner):
    login(client)
    add_funds(client, "50.00", number=MASTERCARD, save_card="y")
    with app.app_context():
        saved = db.session.scalars(sa.select(SavedCard)).one()
        assert (saved.brand, saved.last4) == ("MasterCard", "4444")
        assert "5555555555554444" not in saved.token
    # The saved card pays next time without its number.
    response, _ = add_funds(client, "100.00", saved_card=str(saved.id), number="")
    assert response.status_code == 302
    assert balance(app, owner.client_id) == 15000


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"number": AMEX}, "number", "American Express is not accepted"),
        ({"number": "4242424242424241"}, "number", "This card number is not valid"),
        ({"month": "13"}, "exp_month", "Enter the expiry month"),
        ({"year": "20"}, "exp_year", "This card has expired."),
        ({"cvc": "12"}, "cvc", "Enter the 3-digit security code"),
    ],
)
def test_bad_cards_are_refused_beside_the_field(app, client, owner, fields, field, message):
    login(client)
    values = card(**{k: v for k, v in fields.items()})
    response, _ = add_funds(client, **values)
    assert response.status_code == 422
    assert message in (error_beside(response.get_data(as_text=True), field) or "")
    assert balance(app, owner.client_id) == 0 and counts(app)[0] == 0


def test_declined_card_credits_nothing_and_says_why(app, client, owner):
    login(client)
    response, _ = add_funds(client, number=DECLINED)
    assert response.status_code == 422
    assert "Your card was declined." in response.get_data(as_text=True)
    assert balance(app, owner.client_id) == 0
    with app.app_context():
        payment = db.session.scalars(sa.select(Payment)).one()
        assert payment.status is PaymentStatus.FAILED


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("-50", "Enter an amount like 50 or 50.00."),
        ("0", "The amount must be greater than zero."),
        ("abc", "Enter an amount like 50 or 50.00."),
        ("NaN", "Enter an amount like 50 or 50.00."),
        ("1E+999999", "Enter an amount like 50 or 50.00."),
        ("100.001", "EUR amounts have at most 2 decimals."),
        ("75.00", "Choose one of the amounts shown."),
        ("999999.00", "The amount can be at most"),
    ],
)
def test_bad_amounts_are_refused_and_change_nothing(app, client, owner, amount, message):
    login(client)
    response, _ = add_funds(client, amount)
    assert response.status_code == 422
    assert message in (error_beside(response.get_data(as_text=True), "amount") or "")
    assert balance(app, owner.client_id) == 0 and counts(app) == (0, 0)


def test_wrong_currency_is_refused(app, client, owner):
    login(client)
    response, _ = add_funds(client, currency="USD")
    assert "Amounts are in EUR" in response.get_data(as_text=True)
    assert counts(app) == (0, 0)


class TestCustomAmounts:
    @pytest.fixture
    def app_overrides(self):
        return {"WALLET_TOPUP_CUSTOM": True, "WALLET_TOPUP_MIN": 1000, "WALLET_TOPUP_MAX": 100000}

    @pytest.mark.parametrize(
        ("amount", "message"),
        [("5.00", "The smallest top-up is €10.00."), ("1000.01", "The amount can be at most €1,000.00.")],
    )
    def test_outside_min_and_max_is_refused(self, app, client, owner, amount, message):
        login(client)
        response, _ = add_funds(client, custom_amount=amount)
        assert message in (error_beside(response.get_data(as_text=True), "custom_amount") or "")
        assert balance(app, owner.client_id) == 0

    def test_a_custom_amount_inside_the_range_is_credited(self, app, client, owner):
        login(client)
        add_funds(client, custom_amount="75.50")
        assert balance(app, owner.client_id) == 7550


# --- bank transfers ------------------------------------------------------------------------


def test_bank_transfer_shows_bank_details_and_a_typable_reference(app, client, owner):
    login(client)
    transfer_id, page = start_transfer(client)
    with app.app_context():
        reference = db.session.get(BankTransfer, transfer_id).reference
    assert re.fullmatch(r"BF-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}", reference)
    assert reference in page and app.config["SELLER"]["iban"] in page and "€50.00" in page


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 100, "invoice.pdf", "Upload a PDF, PNG or JPEG file."),
        (b"MZ\x90\x00" + b"\x00" * 100, "proof.pdf", "Upload a PDF, PNG or JPEG file."),
        (b"\x89PNG\r\n\x1a\nnot really a png", "proof.png", "Upload a PDF, PNG or JPEG file."),
        (b"%PDF-1.4\n" + b"0" * (5 * 1024 * 1024), "big.pdf", "The file is larger than 5 MB."),
    ],
)
def test_bad_proofs_are_refused(app, client, owner, content, name, message):
    login(client)
    transfer_id, _ = start_transfer(client)
    response = upload(client, transfer_id, content, name)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(BankTransfer, transfer_id).status is TransferStatus.AWAITING_PROOF


def test_proof_is_stored_outside_static_and_staff_credit_it_once(app, client, owner, runner, tmp_path):
    app.config["UPLOAD_FOLDER"] = str(tmp_path / "uploads")
    login(client)
    transfer_id, _ = start_transfer(client)
    assert upload(client, transfer_id, PDF, "extras.pdf").status_code == 302
    with app.app_context():
        transfer = db.session.get(BankTransfer, transfer_id)
        assert transfer.status is TransferStatus.PENDING and transfer.proof_filename == "extras.pdf"
        stored = tmp_path / "uploads" / "proofs" / transfer.proof_path
        assert stored.read_bytes() == PDF and "extras" not in transfer.proof_path
    download = client.get(f"/wallet/transfers/{transfer_id}/proof")
    assert download.data == PDF and download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment")

    staff = app.test_client()
    sign_in_staff(staff, make_staff(app, P.APPROVE_PAYMENTS))
    assert "extras.pdf" in staff.get("/admin/bank-transfers").get_data(as_text=True)
    assert staff.get(f"/admin/bank-transfers/{transfer_id}/proof").data == PDF
    token = csrf_from(staff.get(f"/admin/bank-transfers/{transfer_id}").get_data(as_text=True))
    for _ in range(2):  # a double click credits once
        staff.post(
            f"/admin/bank-transfers/{transfer_id}/approve",
            data={"csrf_token": token, "received": "50.00", "confirm": "y"},
        )
    assert balance(app, owner.client_id) == 5000
    with app.app_context():
        assert db.session.get(BankTransfer, transfer_id).status is TransferStatus.APPROVED


@pytest.mark.parametrize("path", ["/wallet/transfers/{id}", "/wallet/transfers/{id}/proof"])
def test_another_clients_transfer_and_proof_are_a_404(app, client, owner, path, tmp_path):
    app.config["UPLOAD_FOLDER"] = str(tmp_path)
    make_owner(app, email="other@example.com")
    other_client = app.test_client()
    login(other_client, "other@example.com")
    transfer_id, _ = start_transfer(other_client)
    upload(other_client, transfer_id, PDF, "theirs.pdf")
    login(client)
    assert client.get(path.format(id=transfer_id)).status_code == 404
    response = upload(client, transfer_id, PDF, "mine.pdf")
    assert response.status_code == 404


# --- paying invoices ---------------------------------------------------------------------


def test_pay_from_balance_issues_the_tax_invoice(app, client, owner):
    number = make_proforma(app, owner.client_id, 1000)  # 12.10 with VAT
    credit(app, owner.client_id, 5000)
    login(client)
    response = pay_form(client, number, use_balance="y")
    assert response.status_code == 302
    assert balance(app, owner.client_id) == 5000 - 1210
    with app.app_context():
        assert db.session.scalar(sa.select(Invoice.status).where(Invoice.number == number)) is InvoiceStatus.PAID


def test_an_invoice_in_another_currency_is_not_paid_from_the_balance(app, client, owner):
    from app.core.errors import DomainError
    from app.wallet.services import pay_invoices_from_wallet

    number = make_proforma(app, owner.client_id, 1000)
    credit(app, owner.client_id, 5000)
    with app.app_context():
        db.session.execute(sa.update(Invoice).where(Invoice.number == number).values(currency="USD"))
        db.session.commit()
        invoice_id = db.session.scalar(sa.select(Invoice.id).where(Invoice.number == number))
        with pytest.raises(DomainError, match="is in USD and your balance in EUR"):
            pay_invoices_from_wallet(owner.client_id, [invoice_id], key="k", actor="user:1")
        db.session.rollback()
    assert balance(app, owner.client_id) == 5000
    # The pay page does not offer it either, so no card is charged for it.
    login(client)
    page = client.get(f"/invoices/pay?invoice={number}", follow_redirects=True).get_data(as_text=True)
    assert "nothing left to pay" in page
    assert counts(app)[1] == 0


def test_balance_applies_partially_and_the_card_pays_the_rest(app, client, owner):
    number = make_proforma(app, owner.client_id, 10000)  # 121.00
    credit(app, owner.client_id, 2100)
    login(client)
    page = client.get(f"/invoices/pay?invoice={number}").get_data(as_text=True)
    assert "From your balance: <strong>€21.00</strong>" in page and "By card: <strong>€100.00</strong>" in page

    response = pay_form(client, number, use_balance="y", **card())

    assert response.status_code == 302
    assert balance(app, owner.client_id) == 0
    with app.app_context():
        card_payment = db.session.scalars(sa.select(Payment)).one()
        assert card_payment.amount_minor == 10000 and card_payment.status is PaymentStatus.SUCCEEDED


def test_without_use_balance_the_card_pays_everything(app, client, owner):
    number = make_proforma(app, owner.client_id, 1000)
    credit(app, owner.client_id, 5000)
    login(client)
    pay_form(client, number, **card())
    assert balance(app, owner.client_id) == 5000


def test_several_invoices_at_once(app, client, owner):
    numbers = [make_proforma(app, owner.client_id, 1000), make_proforma(app, owner.client_id, 2000)]
    login(client)
    response = pay_form(client, *numbers, **card())
    assert response.status_code == 302 and response.location == "/invoices?status=paid"
    with app.app_context():
        paid = db.session.scalars(sa.select(Invoice.status).where(Invoice.number.in_(numbers))).all()
        assert paid == [InvoiceStatus.PAID, InvoiceStatus.PAID]
        assert db.session.scalars(sa.select(Payment.amount_minor)).one() == 1210 + 2420


def test_a_declined_card_pays_nothing(app, client, owner):
    number = make_proforma(app, owner.client_id, 1000)
    login(client)
    response = pay_form(client, number, **card(number=DECLINED))
    assert response.status_code == 422 and "Your card was declined." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(Invoice.status).where(Invoice.number == number)) is InvoiceStatus.UNPAID
    assert balance(app, owner.client_id) == 0


def test_a_replayed_payment_pays_once(app, client, owner):
    number = make_proforma(app, owner.client_id, 1000)
    login(client)
    query = client.get(f"/invoices/pay?invoice={number}").get_data(as_text=True)
    expected = re.search(r'name="expected_card_minor" type="hidden" value="(\d*)"', query).group(1)
    data = {**form_values(query), "invoice": [number], "expected_card_minor": expected, **card()}
    client.post("/invoices/pay", data=data)
    client.post("/invoices/pay", data=data)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Payment.id))) == 1
        assert db.session.scalar(sa.select(sa.func.count(Invoice.id)).where(Invoice.kind == "tax_invoice")) == 1
    assert balance(app, owner.client_id) == 0


def test_another_clients_invoice_cannot_be_paid(app, client, owner):
    other = make_owner(app, email="other@example.com")
    theirs = make_proforma(app, other.client_id, 1000)
    credit(app, owner.client_id, 5000)
    login(client)
    response = client.get(f"/invoices/pay?invoice={theirs}")
    assert response.status_code == 302 and "nothing left to pay" in client.get("/").get_data(as_text=True)
    assert balance(app, owner.client_id) == 5000


def test_the_billing_run_never_touches_the_balance(app, owner):
    from app.billing.run import run_billing

    credit(app, owner.client_id, 100000)
    make_service(app, owner.client_id, due=date(2026, 12, 5))
    with app.app_context():
        [proforma_id] = run_billing(date(2026, 12, 1)).proforma_ids
        assert db.session.get(Invoice, proforma_id).status is InvoiceStatus.UNPAID
    assert balance(app, owner.client_id) == 100000


# --- statement ------------------------------------------------------------------------------


def test_statement_shows_opening_closing_and_entries_as_pdf_and_csv(app, client, owner):
    credit(app, owner.client_id, 5000)
    with app.app_context():  # a description a spreadsheet would run
        from app.wallet.models import EntryKind
        from app.wallet.services import post_entry

        post_entry(owner.client_id, -1000, EntryKind.ADJUSTMENT, key="k2", actor="staff:1", description="=HYPERLINK(1)")
        db.session.commit()
    other = make_owner(app, email="other@example.com")
    credit(app, other.client_id, 99900)
    login(client)
    today = client_today(app, owner.client_id).isoformat()

    page = client.get(f"/wallet/statement?start={today}&end={today}").get_data(as_text=True)
    assert "€50.00" in page and "€40.00" in page and "€999.00" not in page

    rows = list(csv.reader(io.StringIO(client.get(f"/wallet/statement?start={today}&end={today}&format=csv").text)))
    assert rows[0] == ["Date", "Description", "Reference", "Credit", "Debit", "Balance", "Currency"]
    assert rows[1][1] == "Opening balance" and rows[1][5] == "0.00"
    assert rows[2][3] == "50.00" and rows[3][1] == "'=HYPERLINK(1)" and rows[3][4] == "10.00"
    assert rows[-1][1] == "Closing balance" and rows[-1][5] == "40.00"
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)

    pdf = client.get(f"/wallet/statement?start={today}&end={today}&format=pdf")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "Account statement" in text and "€40.00" in text and "=HYPERLINK(1)" in text


# --- verify ------------------------------------------------------------------------------------


def test_wallet_verify_reports_a_corrupted_balance(app, owner, runner):
    credit(app, owner.client_id, 5000)
    assert runner.invoke(args=["wallet", "verify"]).exit_code == 0
    with app.app_context():
        db.session.execute(sa.text("UPDATE clients SET balance_minor = 7000 WHERE id = :id"), {"id": owner.client_id})
        db.session.commit()
    result = runner.invoke(args=["wallet", "verify"])
    assert result.exit_code == 1
    assert f"client {owner.client_id}: balance 7000 but ledger entries sum to 5000" in result.output


def test_ledger_entries_cannot_be_changed(app, owner):
    credit(app, owner.client_id, 5000)
    with app.app_context():
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db.session.execute(sa.text("UPDATE ledger_entries SET amount_minor = 1"))
        db.session.rollback()
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db.session.execute(sa.text("DELETE FROM ledger_entries"))


# --- gateway callbacks ---------------------------------------------------------------------


class TestGatewayCallback:
    SECRET = "whsec-test"

    @pytest.fixture
    def app_overrides(self):
        return {"PAYMENT_WEBHOOK_SECRET": self.SECRET}

    def post(self, client, body: bytes, signature: str | None = None):
        import hashlib
        import hmac

        signature = signature or hmac.new(self.SECRET.encode(), body, hashlib.sha256).hexdigest()
        return client.post(
            "/wallet/callback/test", data=body, headers={"X-Signature": signature, "Content-Type": "application/json"}
        )

    @staticmethod
    def pending_payment(app, owner) -> None:
        """A card payment of 25.00 waiting for the gateway's callback (charge "ch_1")."""
        with app.app_context():
            db.session.add(
                Payment(
                    client_id=owner.client_id,
                    gateway="test",
                    external_id="ch_1",
                    idempotency_key="k",
                    amount_minor=2500,
                    currency="EUR",
                )
            )
            db.session.commit()

    def test_a_replayed_callback_credits_once(self, app, client, owner):
        self.pending_payment(app, owner)
        body = b'{"external_id": "ch_1", "status": "succeeded", "amount_minor": 2500, "currency": "EUR"}'
        assert self.post(client, body).status_code == 200
        assert self.post(client, body).status_code == 200
        assert balance(app, owner.client_id) == 2500

    def test_a_forged_callback_is_refused(self, app, client, owner):
        body = b'{"external_id": "ch_1", "status": "succeeded", "amount_minor": 2500, "currency": "EUR"}'
        assert self.post(client, body, signature="0" * 64).status_code == 400
        assert balance(app, owner.client_id) == 0

    @pytest.mark.parametrize(
        ("event", "status"),
        [
            ({}, 400),  # no amount: never "whatever was pending"
            ({"amount_minor": "2500", "currency": "EUR"}, 400),
            ({"amount_minor": 2500}, 400),
            ({"amount_minor": 9900, "currency": "EUR"}, 409),
            ({"amount_minor": 2500, "currency": "USD"}, 409),
        ],
    )
    def test_a_success_without_the_right_amount_and_currency_credits_nothing(self, app, client, owner, event, status):
        import json

        self.pending_payment(app, owner)
        body = json.dumps({"external_id": "ch_1", "status": "succeeded", **event}).encode()
        assert self.post(client, body).status_code == status
        assert balance(app, owner.client_id) == 0
        with app.app_context():
            assert db.session.scalar(sa.select(Payment.status)) is PaymentStatus.PENDING

    def test_the_callback_completes_a_charge_whose_request_died_before_recording_it(
        self, app, client, owner, monkeypatch
    ):
        import json

        from app.wallet import gateways
        from app.wallet.services import CardPayment, charge_card_to_wallet

        charged, real_charge = [], gateways.TestGateway.charge

        def charge_then_die(gateway, *args, **kwargs):
            charged.append(real_charge(gateway, *args, **kwargs))
            raise RuntimeError("worker killed after the gateway charged the card")

        monkeypatch.setattr(gateways.TestGateway, "charge", charge_then_die)
        with app.app_context():
            with pytest.raises(RuntimeError):
                charge_card_to_wallet(
                    owner.client_id,
                    5000,
                    CardPayment(card=gateways.Card("4242424242424242", 12, date.today().year + 2, "123")),
                    key="topup:1:crash",
                    actor="user:1",
                )
            db.session.rollback()
            assert db.session.scalar(sa.select(Payment.external_id)) is None
        [charge] = charged

        def callback(reference):
            event = {"external_id": charge.external_id, "status": "succeeded", "amount_minor": 5000, "currency": "EUR"}
            return self.post(client, json.dumps({**event, "reference": reference}).encode())

        assert callback("topup:1:another").status_code == 404  # a reference that is not ours finds nothing
        assert callback("topup:1:crash").status_code == 200
        assert callback("topup:1:crash").status_code == 200  # a replay credits once
        assert balance(app, owner.client_id) == 5000
        with app.app_context():
            payment = db.session.scalar(sa.select(Payment))
            assert (payment.status, payment.external_id) == (PaymentStatus.SUCCEEDED, charge.external_id)


def test_a_changed_balance_is_not_silently_charged_to_the_card(app, client, owner):
    number = make_proforma(app, owner.client_id, 1000)
    credit(app, owner.client_id, 500)
    login(client)
    html = client.get(f"/invoices/pay?invoice={number}").get_data(as_text=True)  # shows 5.00 + 7.10 by card
    credit(app, owner.client_id, 300)  # the balance changes before the click
    data = {**form_values(html), "invoice": [number], "use_balance": "y", "expected_card_minor": "710", **card()}
    response = client.post("/invoices/pay", data=data)
    assert response.status_code == 422 and "Your balance changed" in response.get_data(as_text=True)
    assert balance(app, owner.client_id) == 800 and counts(app)[1] == 0


@pytest.mark.parametrize(("error", "same_key"), [("in_progress", True), ("declined", False)])
def test_a_payment_still_in_progress_keeps_its_key_so_a_resubmit_cannot_charge_twice(
    app, client, owner, monkeypatch, error, same_key
):
    from app.core.errors import DomainError
    from app.wallet.services import PaymentInProgress

    def refuse(*args, **kwargs):
        raise PaymentInProgress() if error == "in_progress" else DomainError("The card was declined.")

    monkeypatch.setattr("app.wallet.services.charge_card_to_wallet", refuse)
    number = make_proforma(app, owner.client_id, 1000)
    login(client)
    sent = form_values(client.get(f"/invoices/pay?invoice={number}").get_data(as_text=True))
    data = {**sent, "invoice": [number], "expected_card_minor": "1210", **card()}
    html = client.post("/invoices/pay", data=data).get_data(as_text=True)
    assert ("already being processed" in html) is same_key
    assert (form_values(html)["idempotency_key"] == sent["idempotency_key"]) is same_key


def test_card_number_and_code_are_not_sent_back(app, client, owner):
    login(client)
    response, _ = add_funds(client, number=DECLINED, cvc="987")
    html = response.get_data(as_text=True)
    assert DECLINED not in html and 'value="987"' not in html


def test_another_clients_saved_card_cannot_be_used(app, owner):
    from app.wallet.services import CardPayment, charge_card_to_wallet

    other = make_owner(app, email="other@example.com")
    with app.app_context():
        db.session.add(
            SavedCard(
                client_id=other.client_id,
                gateway="test",
                token="tok_Visa_4242_x",
                brand="Visa",
                last4="4242",
                exp_month=12,
                exp_year=2099,
            )
        )
        db.session.commit()
        card_id = db.session.scalar(sa.select(SavedCard.id))
        from app.core.errors import ValidationError

        with pytest.raises(ValidationError, match="saved cards"):
            charge_card_to_wallet(owner.client_id, 5000, CardPayment(saved_card_id=card_id), key="k", actor="user:1")
    assert balance(app, owner.client_id) == 0


def test_the_statement_dates_entries_in_the_clients_days_in_every_format(app, client, owner):
    from datetime import UTC, datetime

    from app.wallet.models import EntryKind

    with app.app_context():
        db.session.add(
            LedgerEntry(
                client_id=owner.client_id,
                kind=EntryKind.ADJUSTMENT,
                amount_minor=500,
                currency="EUR",
                balance_after_minor=500,
                description="just after midnight in Bucharest",
                idempotency_key="k-midnight",
                actor="staff:1",
                created_at=datetime(2025, 2, 28, 22, 30, tzinfo=UTC),  # 00:30 on 1 March, UTC+2
            )
        )
        db.session.commit()
    login(client)
    march = "/wallet/statement?start=2025-03-01&end=2025-03-31"

    assert "01 Mar 2025" in client.get(march).get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(client.get(march + "&format=csv").get_data(as_text=True))))
    assert rows[2][:2] == ["2025-03-01 00:30", "just after midnight in Bucharest"]
    february = client.get("/wallet/statement?start=2025-02-01&end=2025-02-28&format=csv").get_data(as_text=True)
    assert "just after midnight" not in february
