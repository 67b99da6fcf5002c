"""Reporting tax documents to ANAF's e-Factura, against a fake ANAF on loopback (tests/support/fake_anaf.py):
each issued document is checked, uploaded once, followed to its verdict, and what went wrong is kept."""

from __future__ import annotations

import io
import zipfile
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from lxml import etree

from app.core.types import utcnow
from app.einvoice import jobs
from app.einvoice import services as efactura
from app.einvoice.deadline import orthodox_easter, report_deadline
from app.einvoice.models import EInvoice, EInvoiceState
from app.einvoice.ubl import NS
from app.extensions import db
from app.invoices.models import Invoice
from app.invoices.services import issue_credit_note
from tests.support import fake_anaf
from tests.support.einvoice import RO_COMPANY, RO_PERSON, US_COMPANY, tax_invoice_for
from tests.support.staff import make_staff, sign_in_staff


@pytest.fixture
def anaf():
    fake, server = fake_anaf.start()
    yield fake
    fake_anaf.stop(fake, server)


@pytest.fixture
def app_overrides(anaf):
    return {
        "EFACTURA_ENABLED": True,
        "EFACTURA_CIF": fake_anaf.CIF,
        "EFACTURA_ACCESS_TOKEN": fake_anaf.TOKEN,
        "EFACTURA_API_URL": anaf.url,
        "EFACTURA_TIMEOUT": 0.5,
        "EFACTURA_POLL_SECONDS": 0,  # due again at once: each sweep is one more question
    }


def report(app, number: str) -> EInvoice:
    with app.app_context():
        row = db.session.scalar(sa.select(EInvoice).where(EInvoice.number == number))
        assert row is not None, f"no e-Factura report for {number}"
        db.session.expunge(row)
        return row


def sweep(app) -> int:
    with app.app_context():
        return jobs.efactura_sweep_job()


def test_an_issued_invoice_is_uploaded_once_and_its_acceptance_stored(app, anaf):
    number = tax_invoice_for(app, RO_COMPANY)  # paying it commits the report; the job runs in-process

    uploaded = report(app, number)
    assert uploaded.state is EInvoiceState.PROCESSING
    assert [(u.path, u.cif) for u in anaf.uploads] == [("upload", fake_anaf.CIF)]
    assert uploaded.upload_index == anaf.uploads[0].index and uploaded.b2c is False
    assert b"<cbc:ID>" + number.encode() in anaf.uploads[0].xml

    sweep(app)  # ANAF: "in prelucrare"
    assert report(app, number).state is EInvoiceState.PROCESSING
    sweep(app)  # ANAF: "ok"
    accepted = report(app, number)
    assert accepted.state is EInvoiceState.ACCEPTED and accepted.failures == []
    with zipfile.ZipFile(io.BytesIO(accepted.signed_zip)) as archive:
        index = accepted.upload_index
        assert sorted(archive.namelist()) == [f"{index}.xml", f"semnatura_{index}.xml"]
    assert sweep(app) == 0 and len(anaf.uploads) == 1, "an accepted document is done"


def test_a_private_buyer_goes_to_uploadb2c_and_a_credit_note_is_reported_too(app, anaf):
    number = tax_invoice_for(app, RO_PERSON)
    with app.app_context():
        invoice = db.session.scalar(sa.select(Invoice).where(Invoice.number == number))
        note = issue_credit_note(invoice, reason="Cancelled order").number
        db.session.commit()

    assert [u.path for u in anaf.uploads] == ["uploadb2c", "uploadb2c"]
    assert report(app, number).b2c and report(app, note).state is EInvoiceState.PROCESSING
    assert b"<CreditNote" in anaf.uploads[1].xml


def test_only_romanian_buyers_are_reported_and_nothing_when_efactura_is_off(app, anaf):
    tax_invoice_for(app, US_COMPANY)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EInvoice)) == 0
        app.config["EFACTURA_ENABLED"] = False
    tax_invoice_for(app, RO_COMPANY, email="ro@example.com")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EInvoice)) == 0
    assert anaf.uploads == []


def test_an_upload_that_times_out_after_anaf_accepted_it_is_found_not_sent_again(app, anaf):
    anaf.upload_mode = "timeout"  # ANAF stores it, the answer comes after the client gave up
    number = tax_invoice_for(app, RO_COMPANY)

    uncertain = report(app, number)
    assert uncertain.state is EInvoiceState.UNCERTAIN and uncertain.upload_index is None
    assert "no answer" in uncertain.last_error

    anaf.upload_mode = "answer"
    sweep(app)  # looks in listaMesajeFactura, finds its own invoice in the ZIP
    found = report(app, number)
    assert found.state is EInvoiceState.ACCEPTED
    assert found.upload_index == anaf.uploads[0].index and found.signed_zip
    assert len(anaf.uploads) == 1, "reconciled: not uploaded a second time"
    assert "GET listaMesajeFactura" in anaf.requests


def test_an_upload_that_never_arrived_is_sent_again_only_after_the_grace_time(app, anaf):
    anaf.upload_mode = "lost"  # no answer, nothing stored
    number = tax_invoice_for(app, RO_COMPANY)
    assert report(app, number).state is EInvoiceState.UNCERTAIN

    anaf.upload_mode = "answer"
    sweep(app)  # not in the message list, but it may still be on its way: wait
    assert report(app, number).state is EInvoiceState.UNCERTAIN and anaf.uploads == []

    app.config["EFACTURA_RECONCILE_SECONDS"] = 0
    sweep(app)
    assert report(app, number).state is EInvoiceState.PROCESSING
    assert len(anaf.uploads) == 1


def test_a_rejection_keeps_anafs_errors_and_shows_them_to_staff(app, anaf):
    anaf.verdict = "nok"
    number = tax_invoice_for(app, RO_COMPANY)
    sweep(app)
    sweep(app)

    rejected = report(app, number)
    assert rejected.state is EInvoiceState.REJECTED
    assert [f["text"] for f in rejected.failures] == anaf.errors

    from app.staff import privileges as P

    browser = app.test_client()
    sign_in_staff(browser, make_staff(app, P.VIEW_CLIENTS, P.MANAGE_BILLING))
    page = browser.get("/admin/efactura").get_data(as_text=True)
    assert number in page and "BR-RO-100 cif cumparator invalid" in page and "Rejected" in page

    anaf.verdict = "ok"
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    browser.post(f"/admin/efactura/{rejected.id}/retry", data={"csrf_token": token})
    assert report(app, number).state is EInvoiceState.PROCESSING and len(anaf.uploads) == 2


def test_a_broken_total_is_caught_by_br_co_16_and_never_sent(app, anaf, monkeypatch):
    real = efactura.document_xml

    def broken_total(invoice, profile="ciusro"):
        document = etree.fromstring(real(invoice, profile))
        payable = document.find("cac:LegalMonetaryTotal/cbc:PayableAmount", NS)
        payable.text = str(Decimal(payable.text) + 1)  # one euro more than the total minus what was paid
        return etree.tostring(document, xml_declaration=True, encoding="UTF-8")

    monkeypatch.setattr(efactura, "document_xml", broken_total)
    number = tax_invoice_for(app, RO_COMPANY)

    invalid = report(app, number)
    assert invalid.state is EInvoiceState.INVALID and anaf.uploads == []
    assert [(f["rule"], f["field"]) for f in invalid.failures] == [("BR-CO-16", "LegalMonetaryTotal/PayableAmount")]
    assert sweep(app) == 0, "an invalid document waits for staff"

    from app.staff import privileges as P

    browser = app.test_client()
    sign_in_staff(browser, make_staff(app, P.VIEW_CLIENTS))
    page = browser.get("/admin/efactura?show=invalid").get_data(as_text=True)
    assert "BR-CO-16" in page and "Totals › amount due" in page and number in page
    assert "Check again" not in page, "retrying needs billing"
    clerk = app.test_client()
    sign_in_staff(clerk, make_staff(app, P.VIEW_CLIENTS, P.MANAGE_BILLING, email="billing@example.com"))
    assert "Check again" in clerk.get("/admin/efactura?show=invalid").get_data(as_text=True)


def test_anaf_unreachable_or_the_token_refused_loses_nothing(app, anaf):
    app.config["EFACTURA_ACCESS_TOKEN"] = "expired"
    number = tax_invoice_for(app, RO_COMPANY)
    waiting = report(app, number)
    assert waiting.state is EInvoiceState.QUEUED and waiting.attempts == 1
    assert "token was refused" in waiting.last_error and anaf.uploads == []

    app.config["EFACTURA_ACCESS_TOKEN"] = fake_anaf.TOKEN
    with app.app_context():
        db.session.execute(sa.update(EInvoice).values(next_attempt_at=None))
        db.session.commit()
    sweep(app)
    assert report(app, number).state is EInvoiceState.PROCESSING and len(anaf.uploads) == 1


def test_two_jobs_at_once_upload_a_document_once(app, anaf):
    from tests.support.concurrency import run_together

    anaf.upload_mode = "timeout"
    anaf.hang_seconds = 0.3
    app.config["EFACTURA_TIMEOUT"] = 2
    app.config["EFACTURA_ENABLED"] = False  # write the report without running its job
    number = tax_invoice_for(app, RO_COMPANY)
    with app.app_context():
        invoice = db.session.scalar(sa.select(Invoice).where(Invoice.number == number))
        app.config["EFACTURA_ENABLED"] = True
        row_id = efactura.record_document(invoice).id
        db.session.commit()
    assert run_together(app, [lambda: efactura.advance(row_id)] * 4) == []
    assert len(anaf.uploads) == 1 and report(app, number).state is EInvoiceState.PROCESSING


def test_a_job_whose_lease_ran_out_does_not_upload(app, anaf):
    """Another job claimed the row after this one's lease ended: only that one may upload it."""
    app.config["EFACTURA_ACCESS_TOKEN"] = "expired"
    number = tax_invoice_for(app, RO_COMPANY)  # queued: the token was refused
    app.config["EFACTURA_ACCESS_TOKEN"] = fake_anaf.TOKEN
    with app.app_context():
        row = db.session.scalar(sa.select(EInvoice).where(EInvoice.number == number))
        ours, theirs = utcnow() - timedelta(seconds=1), utcnow() + timedelta(minutes=5)
        row.claimed_until = theirs
        db.session.commit()
        efactura._upload(row, ours, efactura.transport())
    assert anaf.uploads == []
    still = report(app, number)
    assert still.state is EInvoiceState.QUEUED and still.claimed_until is not None


def test_an_upload_answered_with_a_page_not_from_anaf_is_looked_for_not_sent_again(app, anaf):
    anaf.upload_mode = "garbled"  # stored by ANAF; what came back is a proxy's page
    number = tax_invoice_for(app, RO_COMPANY)
    uncertain = report(app, number)
    assert uncertain.state is EInvoiceState.UNCERTAIN and "not ANAF's XML" in uncertain.last_error

    anaf.upload_mode = "answer"
    sweep(app)
    assert report(app, number).state is EInvoiceState.ACCEPTED and len(anaf.uploads) == 1


def test_a_message_list_that_answers_an_error_is_not_taken_for_an_empty_one(app, anaf):
    anaf.upload_mode = "lost"
    number = tax_invoice_for(app, RO_COMPANY)
    anaf.upload_mode = "answer"
    anaf.list_error = "Lista de mesaje este mai mare decat numarul de 500 elemente permise"
    app.config["EFACTURA_RECONCILE_SECONDS"] = 0  # past the grace time: "not there" would upload again

    sweep(app)
    waiting = report(app, number)
    assert waiting.state is EInvoiceState.UNCERTAIN and "500 elemente" in waiting.last_error
    assert anaf.uploads == [], "an unreadable message list is no proof the upload never arrived"

    anaf.list_error = None
    with app.app_context():
        db.session.execute(sa.update(EInvoice).values(next_attempt_at=None))
        db.session.commit()
    sweep(app)  # "Nu exista mesaje": now it is sent again
    assert report(app, number).state is EInvoiceState.PROCESSING and len(anaf.uploads) == 1


def test_a_step_that_fails_unexpectedly_keeps_the_document_and_says_why(app, anaf, monkeypatch):
    def broken(invoice, profile="ciusro"):
        raise RuntimeError("the generator broke")

    monkeypatch.setattr(efactura, "document_xml", broken)
    number = tax_invoice_for(app, RO_COMPANY)

    kept = report(app, number)
    assert kept.state is EInvoiceState.NEW and kept.claimed_until is None and kept.attempts == 1
    assert kept.last_error == "RuntimeError: the generator broke" and kept.next_attempt_at is not None
    assert anaf.uploads == []


def test_the_token_goes_over_https_only_and_never_follows_a_redirect(app, anaf):
    from app.einvoice import anaf as spv

    with pytest.raises(ValueError, match="https"):
        spv.HttpTransport("http://api.anaf.ro/prod/FCTEL/rest", fake_anaf.CIF, fake_anaf.TOKEN)
    assert spv.HttpTransport("https://api.anaf.ro/prod/FCTEL/rest", fake_anaf.CIF, fake_anaf.TOKEN)

    anaf.redirect_status = True
    link = spv.HttpTransport(anaf.url, fake_anaf.CIF, fake_anaf.TOKEN, timeout=2)
    with pytest.raises(spv.Unavailable, match="HTTP 302"):
        link.status("5001130148")
    assert anaf.requests == ["GET stareMesaj"], "the redirect was followed"


def test_the_deadline_is_five_romanian_working_days():
    assert orthodox_easter(2025) == date(2025, 4, 20) and orthodox_easter(2026) == date(2026, 4, 12)
    assert report_deadline(date(2026, 12, 4)) == date(2026, 12, 11)  # Friday: the next Friday
    assert report_deadline(date(2026, 12, 23)) == date(2026, 12, 31)  # Christmas and a weekend
    assert report_deadline(date(2026, 12, 28)) == date(2027, 1, 5)  # New Year and a weekend
    assert report_deadline(date(2026, 4, 9)) == date(2026, 4, 20)  # Good Friday and Easter Monday


def test_a_broken_rule_is_shown_against_the_field_it_is_about(app):
    number = tax_invoice_for(app, RO_COMPANY)
    with app.app_context():
        document = etree.fromstring(
            efactura.document_xml(db.session.scalar(sa.select(Invoice).filter_by(number=number)))
        )
    buyer = "cac:AccountingCustomerParty/cac:Party/cac:PostalAddress/"
    document.find(buyer + "cbc:CountrySubentity", NS).text = "Cluj"  # a name, not the ISO code RO-CJ
    failures = efactura.validate(etree.tostring(document))

    assert [(f.rule, efactura.field_path(f)) for f in failures] == [
        ("BR-RO-111", "AccountingCustomerParty/PostalAddress/CountrySubentity")
    ]
    with app.test_request_context():
        assert efactura.field_label(efactura.field_path(failures[0])) == "Buyer › address › county"
        assert efactura.field_label("InvoiceLine:2/LineExtensionAmount") == "Line 2 › amount without VAT"
