"""Reporting tax documents to ANAF (RO e-Factura): one EInvoice row per document, moved along by jobs.

A tax invoice or credit note issued to a Romanian buyer gets a row in the transaction that issues
it (an event handler: invoices know nothing of e-invoices). From there `advance` takes it along:

    new -> invalid                     (its XML breaks a rule: stored with the rule IDs, never sent)
    new -> queued -> processing        (uploaded: ANAF's index stored)
        -> accepted | rejected         (ANAF's verdict; the signed ZIP, or its errors, stored)

An upload is marked `uncertain` before it is sent. If it gets its answer, it moves on; if it gets
none (a timeout, the worker killed), the document is looked for in ANAF's message list, and only
when it has not appeared there after EFACTURA_RECONCILE_SECONDS is it uploaded again: no
document is reported twice. Each step claims the row with a compare-and-set and a lease, commits,
and only then talks to ANAF: no lock or transaction stays open during a request.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask, current_app

from app.audit import services as audit
from app.clients.models import ClientKind
from app.core.actors import Actor
from app.core.dates import local_date
from app.core.errors import DomainError
from app.core.events import subscribe
from app.core.i18n import _l
from app.core.queue import JOB_TIMEOUT
from app.core.types import utcnow
from app.einvoice import anaf
from app.einvoice.deadline import report_deadline
from app.einvoice.models import ACTIVE, EInvoice, EInvoiceState
from app.einvoice.ubl import document_xml
from app.einvoice.validation import Failure, validate
from app.extensions import db
from app.invoices.models import Invoice

log = logging.getLogger(__name__)

#: The longest wait between two tries when ANAF cannot be reached.
MAX_BACKOFF = timedelta(hours=1)
#: How far back listaMesajeFactura may be asked (ANAF's limit).
MAX_LIST_DAYS = 60


def enabled(app: Flask | None = None) -> bool:
    return bool((app or current_app).config.get("EFACTURA_ENABLED"))


def must_report(invoice: Invoice) -> bool:
    """Whether ANAF must get this document: a Romanian seller's, to a Romanian buyer (B2B and B2C)."""
    return invoice.is_tax_document and invoice.seller.get("country") == "RO" and invoice.buyer_country == "RO"


def record_document(invoice: Invoice) -> EInvoice | None:
    """The document's report to ANAF, to be made once the issuing transaction commits (None when
    e-Factura is off or the buyer is not Romanian). At most one per document."""
    if not enabled() or not must_report(invoice):
        return None
    existing = db.session.scalar(sa.select(EInvoice).where(EInvoice.invoice_id == invoice.id))
    if existing is not None:
        return existing
    row = EInvoice(
        invoice_id=invoice.id,
        client_id=invoice.client_id,
        number=invoice.number,
        b2c=invoice.buyer_kind is not ClientKind.ORGANIZATION,
        deadline=report_deadline(invoice.issue_date),
    )
    db.session.add(row)
    db.session.flush()
    return row


def _on_invoice_paid(_app, *, tax_invoice_id: int, **_) -> None:
    record_document(db.session.get(Invoice, tax_invoice_id))


def _on_credit_note(_app, *, credit_note_id: int, **_) -> None:
    record_document(db.session.get(Invoice, credit_note_id))


def init_app(app: Flask) -> None:
    if enabled(app) and not (app.config.get("EFACTURA_CIF") and app.config.get("EFACTURA_ACCESS_TOKEN")):
        raise RuntimeError(
            "EFACTURA_ENABLED is set without EFACTURA_CIF and EFACTURA_ACCESS_TOKEN: "
            "ANAF needs the seller's CIF and the OAuth2 token (see README, e-Factura)"
        )
    subscribe("invoice_paid", _on_invoice_paid)  # connecting twice is a no-op
    subscribe("credit_note_issued", _on_credit_note)


# --- the jobs' steps ---------------------------------------------------------------------------


def transport() -> anaf.Transport:
    config = current_app.config
    return anaf.HttpTransport(
        config["EFACTURA_API_URL"], config["EFACTURA_CIF"], config["EFACTURA_ACCESS_TOKEN"], config["EFACTURA_TIMEOUT"]
    )


def lease() -> timedelta:
    """How long a claimed row belongs to the job working on it: longer than the job may run."""
    return timedelta(seconds=max(JOB_TIMEOUT, 4 * current_app.config["EFACTURA_TIMEOUT"]) + 30)


def advance(einvoice_id: int, link: anaf.Transport | None = None) -> str:
    """Take one document as far as it can go now; returns its state after (or "skipped" when it is
    not due, finished, or another job holds it)."""
    link = link or transport()
    until = utcnow() + lease()
    if not _claim(einvoice_id, utcnow(), until):
        return "skipped"
    row = db.session.get(EInvoice, einvoice_id)
    steps = {
        EInvoiceState.NEW: lambda: _check(row, until),
        EInvoiceState.QUEUED: lambda: _upload(row, until, link),
        EInvoiceState.UNCERTAIN: lambda: _reconcile(row, until, link),
        EInvoiceState.PROCESSING: lambda: _poll(row, until, link),
    }
    # new -> queued -> uploaded in one go; a step that lets go of the claim ends the job's turn.
    while row.claimed_until == until and row.state in steps:
        try:
            steps[row.state]()
        except Exception as error:  # a bug, an answer we cannot read: keep the state, say why, try later
            db.session.rollback()
            log.exception("e-invoice %s: %s failed", row.number, row.state.value)
            row = db.session.get(EInvoice, einvoice_id)
            _record(
                row,
                until,
                attempts=row.attempts + 1,
                last_error=f"{type(error).__name__}: {error}"[:500],
                next_attempt_at=_backoff(row),
            )
    return row.state.value


def _claim(einvoice_id: int, now: datetime, until: datetime) -> bool:
    """Compare-and-set: an active, due, unclaimed row is ours until `until`."""
    claimed = db.session.execute(
        sa.update(EInvoice)
        .where(
            EInvoice.id == einvoice_id,
            EInvoice.state.in_(ACTIVE),
            sa.or_(EInvoice.next_attempt_at.is_(None), EInvoice.next_attempt_at <= now),
            sa.or_(EInvoice.claimed_until.is_(None), EInvoice.claimed_until <= now),
        )
        .values(claimed_until=until)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return claimed == 1


def _record(row: EInvoice, until: datetime, *, release: bool = True, **values) -> bool:
    """Write `values` if the claim `until` is still ours and the row is still in the state this job
    read (a job that outlived its lease writes nothing); returns whether it wrote."""
    if release:
        values["claimed_until"] = None
    done = db.session.execute(
        sa.update(EInvoice)
        .where(EInvoice.id == row.id, EInvoice.claimed_until == until, EInvoice.state == row.state)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    db.session.expire(row)
    if not done:
        log.warning("e-invoice %s: the claim ran out before its outcome was written", row.number)
    return bool(done)


def _later(row: EInvoice, seconds: int | None = None) -> datetime:
    poll = current_app.config["EFACTURA_POLL_SECONDS"]
    return utcnow() + timedelta(seconds=poll if seconds is None else seconds)


def _backoff(row: EInvoice) -> datetime:
    poll = max(current_app.config["EFACTURA_POLL_SECONDS"], 1)
    return utcnow() + min(timedelta(seconds=poll * 2 ** min(row.attempts, 12)), MAX_BACKOFF)


def _check(row: EInvoice, until: datetime) -> None:
    """Build the XML from the document's snapshot and check it; a broken rule stops it here."""
    xml = document_xml(db.session.get(Invoice, row.invoice_id), "ciusro")
    failures = validate(xml, "ciusro")
    if failures:
        log.warning("e-invoice %s breaks %s rule(s): not sent", row.number, len(failures))
        _record(row, until, state=EInvoiceState.INVALID, xml=xml, failures=[_as_dict(f) for f in failures])
    else:
        _record(row, until, release=False, state=EInvoiceState.QUEUED, xml=xml, failures=[])


def _upload(row: EInvoice, until: datetime, link: anaf.Transport) -> None:
    # Uncertain first, committed: if this process dies during the request, the next job looks
    # for the document at ANAF before it would ever upload it again.
    if not _record(row, until, release=False, state=EInvoiceState.UNCERTAIN, uploaded_at=utcnow()):
        return  # the lease ran out: another job may hold it now, and it alone may upload
    try:
        index = link.upload(row.xml, b2c=row.b2c)
    except anaf.NoAnswer as error:
        _record(row, until, last_error=str(error)[:500], next_attempt_at=_later(row))
    except anaf.Unavailable as error:
        _record(
            row,
            until,
            state=EInvoiceState.QUEUED,
            attempts=row.attempts + 1,
            last_error=str(error)[:500],
            next_attempt_at=_backoff(row),
        )
    except anaf.Refused as error:
        _reject(row, until, error.errors)
    else:
        log.info("e-invoice %s uploaded: index %s", row.number, index)
        _record(
            row,
            until,
            state=EInvoiceState.PROCESSING,
            upload_index=index,
            last_error=None,
            next_attempt_at=_later(row),
        )


def _reconcile(row: EInvoice, until: datetime, link: anaf.Transport) -> None:
    """An upload without an answer: find it in ANAF's messages, or upload again once it is clearly not there."""
    started = row.uploaded_at or row.created_at
    # A day more than it has been: ANAF counts `zile` in its own calendar days.
    days = min((utcnow() - started).days + 2, MAX_LIST_DAYS)
    invoice = db.session.get(Invoice, row.invoice_id)
    wanted = (invoice.number, invoice.issue_date.isoformat())
    try:
        messages = [m for m in link.messages(days) if "TRIMISA" in m.kind.upper()]  # accepted uploads
        known = set(
            db.session.scalars(
                sa.select(EInvoice.upload_index).where(EInvoice.upload_index.in_([m.upload_index for m in messages]))
            )
        )
        for message in messages:
            if message.upload_index in known:
                continue
            archive = link.download(message.id)
            if anaf.zip_document_id(archive) == wanted:
                log.info("e-invoice %s: its unanswered upload is index %s", row.number, message.upload_index)
                _record(
                    row,
                    until,
                    state=EInvoiceState.ACCEPTED,
                    upload_index=message.upload_index,
                    download_id=message.id,
                    signed_zip=archive,
                    decided_at=utcnow(),
                    last_error=None,
                    next_attempt_at=None,
                )
                return
    except anaf.Unavailable as error:
        _record(row, until, attempts=row.attempts + 1, last_error=str(error)[:500], next_attempt_at=_backoff(row))
        return
    if utcnow() - started >= timedelta(seconds=current_app.config["EFACTURA_RECONCILE_SECONDS"]):
        log.warning("e-invoice %s: its unanswered upload never reached ANAF; uploading again", row.number)
        _record(row, until, release=False, state=EInvoiceState.QUEUED)
    else:
        _record(row, until, next_attempt_at=_later(row))


def _poll(row: EInvoice, until: datetime, link: anaf.Transport) -> None:
    try:
        verdict = link.status(row.upload_index)
        archive = link.download(verdict.download_id) if verdict.state != "processing" and verdict.download_id else None
    except anaf.Unavailable as error:
        _record(row, until, attempts=row.attempts + 1, last_error=str(error)[:500], next_attempt_at=_backoff(row))
        return
    if verdict.state == "processing":
        _record(row, until, next_attempt_at=_later(row))
    elif verdict.state == "ok":
        log.info("e-invoice %s accepted by ANAF (index %s)", row.number, row.upload_index)
        _record(
            row,
            until,
            state=EInvoiceState.ACCEPTED,
            download_id=verdict.download_id,
            signed_zip=archive,
            decided_at=utcnow(),
            last_error=None,
            next_attempt_at=None,
        )
    else:
        errors = (anaf.zip_errors(archive) if archive else []) or verdict.errors
        errors = errors or ["ANAF rejected it without giving a reason"]
        _reject(row, until, errors, download_id=verdict.download_id, signed_zip=archive)


def _reject(row: EInvoice, until: datetime, errors: list[str], **values) -> None:
    log.warning("e-invoice %s rejected by ANAF: %s", row.number, "; ".join(errors))
    _record(
        row,
        until,
        state=EInvoiceState.REJECTED,
        failures=[{"rule": "ANAF", "location": "", "field": "", "text": text} for text in errors],
        decided_at=utcnow(),
        next_attempt_at=None,
        **values,
    )


def due_ids(limit: int = 500) -> list[int]:
    """The rows a sweep hands to jobs: active, due and not claimed, oldest first."""
    now = utcnow()
    return list(
        db.session.scalars(
            sa.select(EInvoice.id)
            .where(
                EInvoice.state.in_(ACTIVE),
                sa.or_(EInvoice.next_attempt_at.is_(None), EInvoice.next_attempt_at <= now),
                sa.or_(EInvoice.claimed_until.is_(None), EInvoice.claimed_until <= now),
            )
            .order_by(EInvoice.id)
            .limit(limit)
        )
    )


# --- staff -------------------------------------------------------------------------------------


class NotRetryable(DomainError):
    pass


def retry(einvoice_id: int, *, actor: Actor) -> EInvoice:
    """Build, check and send an invalid or rejected document's XML again (after the cause was fixed:
    the seller's settings, the generator). Its snapshot is the same; only the XML is new."""
    row = db.session.get(EInvoice, einvoice_id, with_for_update=True)
    if row is None or row.state not in (EInvoiceState.INVALID, EInvoiceState.REJECTED):
        raise NotRetryable("Only an invalid or rejected e-invoice can be sent again.")
    audit.record(
        actor, "einvoice.retry", client_id=row.client_id, target=f"invoice:{row.invoice_id}", old=row.state, new="new"
    )
    row.state = EInvoiceState.NEW
    row.failures = []
    row.xml = None
    row.upload_index = row.download_id = row.signed_zip = row.decided_at = row.last_error = None
    row.attempts = 0
    row.next_attempt_at = row.claimed_until = None
    db.session.flush()
    return row


def reports_where(show: str, day):
    """The reports of one staff list on `day`: "attention" (invalid, rejected or late), "late" (not
    accepted by its last day), "rejected", "invalid", "waiting" (still moving) or "accepted"."""
    late = sa.and_(EInvoice.state != EInvoiceState.ACCEPTED, EInvoice.deadline < day)
    return {
        "attention": sa.or_(EInvoice.state.in_([EInvoiceState.INVALID, EInvoiceState.REJECTED]), late),
        "late": late,
        "rejected": EInvoice.state == EInvoiceState.REJECTED,
        "invalid": EInvoice.state == EInvoiceState.INVALID,
        "waiting": EInvoice.state.in_(ACTIVE),
        "accepted": EInvoice.state == EInvoiceState.ACCEPTED,
    }[show]


def is_late(row: EInvoice, today) -> bool:
    """Not accepted by ANAF and past its last day, or accepted after it."""
    if row.state is EInvoiceState.ACCEPTED:
        return row.decided_at is not None and local_date(row.decided_at) > row.deadline
    return today > row.deadline


@dataclass(frozen=True)
class Problem:
    """A broken rule or ANAF's error, for staff: the rule, the field it is about (in the reader's
    language), what it says."""

    rule: str
    field: str
    text: str


def problems(row: EInvoice) -> list[Problem]:
    return [Problem(f.get("rule", ""), field_label(f.get("field", "")), f.get("text", "")) for f in row.failures or []]


# Where a broken rule points, in words staff know: the UBL element names of its XPath.
_FIELDS = {
    "AccountingSupplierParty": _l("Seller"),
    "AccountingCustomerParty": _l("Buyer"),
    "PostalAddress": _l("address"),
    "StreetName": _l("street"),
    "CityName": _l("city"),
    "CountrySubentity": _l("county"),
    "PostalZone": _l("postcode"),
    "PartyTaxScheme": _l("VAT number"),
    "PartyLegalEntity": _l("legal name and registration"),
    "TaxTotal": _l("VAT"),
    "TaxSubtotal": _l("VAT breakdown"),
    "LegalMonetaryTotal": _l("totals"),
    "PayableAmount": _l("amount due"),
    "TaxInclusiveAmount": _l("total with VAT"),
    "TaxExclusiveAmount": _l("total without VAT"),
    "LineExtensionAmount": _l("amount without VAT"),
    "InvoiceLine": _l("line"),
    "CreditNoteLine": _l("line"),
    "PaymentMeans": _l("payment means"),
    "ID": _l("document number"),
    "IssueDate": _l("issue date"),
    "DocumentCurrencyCode": _l("currency"),
    "TaxCurrencyCode": _l("VAT currency"),
}
#: Rules about a total whose XPath names only the element around it: the field they are about.
_RULE_FIELDS = {
    "BR-CO-10": "LegalMonetaryTotal/LineExtensionAmount",
    "BR-CO-13": "LegalMonetaryTotal/TaxExclusiveAmount",
    "BR-CO-14": "TaxTotal",
    "BR-CO-15": "LegalMonetaryTotal/TaxInclusiveAmount",
    "BR-CO-16": "LegalMonetaryTotal/PayableAmount",
}
_SELLER, _BUYER = "AccountingSupplierParty", "AccountingCustomerParty"
#: EN 16931 business terms (a rule's text names them: "... (BT-54) must be ...") and their fields.
_TERMS = {
    "BT-1": "ID",
    "BT-2": "IssueDate",
    "BT-5": "DocumentCurrencyCode",
    "BT-6": "TaxCurrencyCode",
    **{bt: f"{_SELLER}/PartyLegalEntity" for bt in ("BT-27", "BT-30")},
    "BT-31": f"{_SELLER}/PartyTaxScheme",
    "BT-35": f"{_SELLER}/PostalAddress/StreetName",
    "BT-37": f"{_SELLER}/PostalAddress/CityName",
    "BT-38": f"{_SELLER}/PostalAddress/PostalZone",
    "BT-39": f"{_SELLER}/PostalAddress/CountrySubentity",
    "BT-40": f"{_SELLER}/PostalAddress",
    **{bt: f"{_BUYER}/PartyLegalEntity" for bt in ("BT-44", "BT-47")},
    "BT-48": f"{_BUYER}/PartyTaxScheme",
    "BT-50": f"{_BUYER}/PostalAddress/StreetName",
    "BT-52": f"{_BUYER}/PostalAddress/CityName",
    "BT-53": f"{_BUYER}/PostalAddress/PostalZone",
    "BT-54": f"{_BUYER}/PostalAddress/CountrySubentity",
    "BT-55": f"{_BUYER}/PostalAddress",
    **{bt: "PaymentMeans" for bt in ("BT-81", "BT-84")},
    "BT-106": "LegalMonetaryTotal/LineExtensionAmount",
    "BT-109": "LegalMonetaryTotal/TaxExclusiveAmount",
    **{bt: "TaxTotal" for bt in ("BT-110", "BT-111")},
    "BT-112": "LegalMonetaryTotal/TaxInclusiveAmount",
    "BT-115": "LegalMonetaryTotal/PayableAmount",
    **{bt: "TaxTotal/TaxSubtotal" for bt in ("BT-116", "BT-117", "BT-118", "BT-120", "BT-121")},
    "BT-131": "InvoiceLine/LineExtensionAmount",
}
_TERM = re.compile(r"\bBT-\d+\b")
_STEP = re.compile(r"(?:\*:|Q\{[^}]*\}|\w+:)?([A-Za-z]+)((?:\[[^\]]*\])*)")
_POSITION = re.compile(r"\[(\d+)\]$")


def field_path(failure: Failure) -> str:
    """The UBL elements a failure is about, like "AccountingCustomerParty/PostalAddress/CountrySubentity"
    or "InvoiceLine:2" (stored): from its XPath, or when that names only the document, from the
    business term its text ends on ("if BT-55 is RO, BT-54 must be ..." is about BT-54)."""
    if failure.rule in _RULE_FIELDS:
        return _RULE_FIELDS[failure.rule]
    steps = []
    for part in failure.location.split("/")[2:]:  # [1] is the root: Invoice or CreditNote
        match = _STEP.fullmatch(part)
        if match and match.group(1) in _FIELDS:
            position = _POSITION.search(match.group(2))
            line = match.group(1).endswith("Line") and position
            steps.append(f"{match.group(1)}:{position.group(1)}" if line else match.group(1))
    if not steps:
        terms = [t for t in _TERM.findall(failure.text) if t in _TERMS]
        return _TERMS[terms[-1]] if terms else ""
    return "/".join(steps)


def field_label(path: str) -> str:
    """A stored field path in words, in the reader's language: "Buyer › address › county"."""
    words: list[str] = []
    for step in filter(None, path.split("/")):
        name, _, position = step.partition(":")
        if name not in _FIELDS:
            continue
        word = f"{_FIELDS[name]} {position}".strip()
        if word not in words:
            words.append(word)
    if words:
        words[0] = words[0][:1].upper() + words[0][1:]
    return " › ".join(words)


def _as_dict(failure: Failure) -> dict:
    return {"rule": failure.rule, "location": failure.location, "field": field_path(failure), "text": failure.text}
