"""VAT numbers confirmed by the EU VIES register before reverse charge applies.

A checksum-valid number proves nothing (DE100000008 passes every checksum and
belongs to nobody), so a buyer's number earns reverse charge only once VIES says
it is registered:

- `check_vat_number_job` asks the configured checker (VAT_CHECKER: `vies` in
  production, `offline` in development and tests) and stores the answer in
  `vat_checks`. It runs on the app's queue; in the embedded shape (no Redis) it
  runs at once, so the billing form knows the answer before it saves.
- A valid or invalid answer is reused for VIES_FRESH_DAYS. An unknown answer
  (VIES or the member state's register down) is asked again by the outbox
  sweeper (`recheck_due`) every VIES_RETRY_MINUTES while an open proforma is
  billed to that number.
- When a number turns valid, its buyers' open proformas are recomputed (reverse
  charge). Tax invoices never change.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

import sqlalchemy as sa
from flask import Flask, current_app

from app.clients.models import ClientKind
from app.clients.services import lock_client
from app.core.queue import enqueue, job, waiting_in_queue
from app.core.types import utcnow
from app.extensions import db
from app.invoices.models import (
    DocumentKind,
    Invoice,
    InvoiceStatus,
    TaxMode,
    VatCheck,
    VatCheckStatus,
)
from app.invoices.proformas import tax_and_totals
from app.invoices.tax import has_eu_vat_number

log = logging.getLogger(__name__)

#: VIES answers (`userError`) that mean "the register could not tell": ask again later.
_RETRY_ERRORS = frozenset(
    {
        "MS_UNAVAILABLE",
        "TIMEOUT",
        "SERVICE_UNAVAILABLE",
        "MS_MAX_CONCURRENT_REQ",
        "GLOBAL_MAX_CONCURRENT_REQ",
        "MS_MAX_CONCURRENT_REQ_TIME",
        "GLOBAL_MAX_CONCURRENT_REQ_TIME",
    }
)


@dataclass(frozen=True)
class VatVerdict:
    status: VatCheckStatus
    name: str | None = None
    address: str | None = None
    consultation_number: str | None = None
    error: str | None = None


class VatNumberChecker(Protocol):
    def check(self, country: str, number: str) -> VatVerdict:
        """What the register says of `number` (without its prefix) of VAT prefix `country`. Never raises."""


def _text(value) -> str | None:
    """VIES says "---" for a name or address a member state does not disclose."""
    value = (value or "").strip() if isinstance(value, str) else None
    return value if value and value != "---" else None


def parse_vies_response(data: dict) -> VatVerdict:
    """A VatVerdict from the JSON of VIES's check-vat-number (an answer or an error body)."""
    errors = [w.get("error") for w in data.get("errorWrappers") or [] if isinstance(w, dict)]
    user_error = data.get("userError")
    if errors or (user_error and user_error not in ("VALID", "INVALID")):
        error = user_error if user_error and user_error not in ("VALID", "INVALID") else (errors[0] or "ERROR")
        return VatVerdict(VatCheckStatus.UNKNOWN, error=str(error)[:200])
    if "valid" not in data:
        return VatVerdict(VatCheckStatus.UNKNOWN, error="VIES gave no answer")
    return VatVerdict(
        VatCheckStatus.VALID if data["valid"] is True else VatCheckStatus.INVALID,
        name=_text(data.get("name")),
        address=_text(data.get("address")),
        consultation_number=_text(data.get("requestIdentifier")),
    )


class ViesChecker:
    """The EU VIES REST service (production)."""

    def __init__(self, url: str, timeout: float, requester: str | None = None) -> None:
        self.url, self.timeout, self.requester = url, timeout, requester

    def check(self, country: str, number: str) -> VatVerdict:
        payload = {"countryCode": country, "vatNumber": number}
        if self.requester:
            # Our own VAT number: VIES then gives a consultation number, proof that we checked.
            payload |= {"requesterMemberStateCode": self.requester[:2], "requesterNumber": self.requester[2:]}
        if not self.url.startswith(("https://", "http://")):
            raise RuntimeError(f"VIES_URL must be an http(s) URL, not {self.url!r}")
        request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
            self.url,
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return parse_vies_response(json.load(response))
        except urllib.error.HTTPError as error:
            try:
                return parse_vies_response(json.load(error))
            except (ValueError, OSError):
                return VatVerdict(VatCheckStatus.UNKNOWN, error=f"VIES answered HTTP {error.code}")
        except (OSError, ValueError) as error:  # URLError, timeouts, a body that is not JSON
            log.warning("VIES check of %s%s failed: %s", country, number, error)
            return VatVerdict(VatCheckStatus.UNKNOWN, error=f"VIES unreachable: {error}"[:200])


class OfflineChecker:
    """Development and tests: the VIES test service's rules, plus configured numbers.

    Number "100" is valid and "200" invalid (any prefix); other test codes
    (201, 300, 301, 302, ...) are errors, so unknown. A full number listed in
    VIES_OFFLINE_VALID is valid, one in VIES_OFFLINE_UNAVAILABLE answers
    MS_UNAVAILABLE (unknown); anything else is invalid.
    """

    def __init__(self, valid: set[str], unavailable: set[str]) -> None:
        self.valid, self.unavailable = valid, unavailable

    def check(self, country: str, number: str) -> VatVerdict:
        full = country + number
        if number == "100" or full in self.valid:
            return VatVerdict(
                VatCheckStatus.VALID,
                name=f"Offline test trader {full}",
                address="Test street 1, Test city",
                consultation_number=f"OFFLINE-{full}-{utcnow():%Y%m%d%H%M%S}",
            )
        if number == "200":
            return VatVerdict(VatCheckStatus.INVALID)
        if (number.isdigit() and len(number) == 3 and number[0] in "23456") or full in self.unavailable:
            return VatVerdict(VatCheckStatus.UNKNOWN, error="MS_UNAVAILABLE")
        return VatVerdict(VatCheckStatus.INVALID)


def _numbers(value) -> set[str]:
    if isinstance(value, str):
        value = value.split(",")
    return {v.strip().upper().replace(" ", "") for v in value or () if v.strip()}


def get_checker(app: Flask | None = None) -> VatNumberChecker:
    config = (app or current_app).config
    name = config.get("VAT_CHECKER", "offline")
    if name == "vies":
        return ViesChecker(config["VIES_URL"], config["VIES_TIMEOUT"], config.get("VIES_REQUESTER") or None)
    if name == "offline":
        return OfflineChecker(
            _numbers(config.get("VIES_OFFLINE_VALID")), _numbers(config.get("VIES_OFFLINE_UNAVAILABLE"))
        )
    raise RuntimeError(f"VAT_CHECKER must be vies or offline, not {name!r}")


# --- stored verdicts --------------------------------------------------------------


def _split(vat_number: str) -> tuple[str, str]:
    return vat_number[:2], vat_number[2:]


def latest_check(vat_number: str | None) -> VatCheck | None:
    """The register's latest answer about `vat_number` (with its prefix), if ever asked."""
    if not vat_number:
        return None
    country, number = _split(vat_number)
    return db.session.scalar(
        sa.select(VatCheck)
        .where(VatCheck.country == country, VatCheck.number == number)
        .order_by(VatCheck.checked_at.desc(), VatCheck.id.desc())
        .limit(1)
    )


def is_fresh(check: VatCheck | None) -> bool:
    """Whether `check` still stands, or it is too soon to ask again."""
    if check is None:
        return False
    config = current_app.config
    if check.status is VatCheckStatus.UNKNOWN:
        age = timedelta(minutes=config["VIES_RETRY_MINUTES"])
    else:
        age = timedelta(days=config["VIES_FRESH_DAYS"])
    return check.checked_at > utcnow() - age


def is_verified(vat_number: str | None) -> bool:
    """Whether the latest answer says `vat_number` is registered: reverse charge may apply."""
    check = latest_check(vat_number)
    return check is not None and check.status is VatCheckStatus.VALID


def verified_numbers(vat_numbers: set[str]) -> set[str]:
    """Those of `vat_numbers` whose latest answer is valid (one query, for the billing run)."""
    if not vat_numbers:
        return set()
    rows = db.session.execute(
        sa.select(VatCheck.country, VatCheck.number, VatCheck.status)
        .where((VatCheck.country + VatCheck.number).in_(vat_numbers))
        .order_by(VatCheck.checked_at, VatCheck.id)
    )
    latest = {country + number: status for country, number, status in rows}
    return {n for n, status in latest.items() if status is VatCheckStatus.VALID}


def needs_verification(kind: ClientKind, country: str, tax_id: str | None) -> bool:
    """Whether this buyer would get reverse charge once its VAT number is confirmed."""
    return (
        kind is ClientKind.ORGANIZATION
        and country != current_app.config["SELLER"]["country"]
        and has_eu_vat_number(country, tax_id)
    )


def verify(vat_number: str) -> VatCheck | None:
    """The standing answer about `vat_number`, asking the register if there is none.

    The check runs as a job; in the embedded shape it runs (and commits its row,
    in a session of its own) before this returns. Call it before taking row
    locks. On RQ it usually has not run yet: None means "asked, no answer yet".
    """
    check = latest_check(vat_number)
    if is_fresh(check):
        return check
    enqueue("app.invoices.vies.check_vat_number_job", vat_number)
    db.session.expire_all()  # see the row the job committed
    check = latest_check(vat_number)
    return check if is_fresh(check) else None


def open_proformas_billed_to(vat_number: str) -> list[Invoice]:
    return list(
        db.session.scalars(
            sa.select(Invoice)
            .where(
                Invoice.kind == DocumentKind.PROFORMA,
                Invoice.status == InvoiceStatus.UNPAID,
                Invoice.amount_paid_minor == 0,
                Invoice.buyer_tax_id == vat_number,
            )
            .order_by(Invoice.client_id, Invoice.id)
        )
    )


def recompute_open_proformas(vat_number: str) -> list[str]:
    """Recompute the open proformas billed to `vat_number` (its answer changed). Returns their numbers.

    Only unpaid proformas with nothing paid: a tax invoice, or a proforma a
    payment has started on, keeps its totals. Locks as a payment does.
    """
    changed = []
    for invoice in open_proformas_billed_to(vat_number):
        lock_client(invoice.client_id)
        db.session.refresh(invoice, with_for_update=True)
        if (
            invoice.status is not InvoiceStatus.UNPAID
            or invoice.amount_paid_minor
            or invoice.buyer_tax_id != vat_number
        ):
            continue
        before = (invoice.tax_mode, invoice.total_minor)
        recompute_totals(invoice)
        if (invoice.tax_mode, invoice.total_minor) != before:
            changed.append(invoice.number)
    db.session.flush()
    return changed


@job
def check_vat_number_job(vat_number: str) -> str:
    """Ask the register about `vat_number`, store the answer; a valid one recomputes open proformas."""
    if is_fresh(latest_check(vat_number)):  # a twin job (the sweeper's copy) already asked
        return latest_check(vat_number).status.value
    country, number = _split(vat_number)
    try:
        verdict = get_checker().check(country, number)
    except Exception as error:  # a checker must not raise; if one does, it is an unknown answer
        log.exception("VAT check of %s failed", vat_number)
        verdict = VatVerdict(VatCheckStatus.UNKNOWN, error=str(error)[:200])
    db.session.add(
        VatCheck(
            country=country,
            number=number,
            status=verdict.status,
            name=(verdict.name or None) and verdict.name[:255],
            address=(verdict.address or None) and verdict.address[:500],
            consultation_number=(verdict.consultation_number or None) and verdict.consultation_number[:60],
            error=verdict.error,
            checked_at=utcnow(),
        )
    )
    db.session.commit()
    if verdict.status is VatCheckStatus.VALID:
        changed = recompute_open_proformas(vat_number)
        db.session.commit()
        if changed:
            log.info("VAT number %s confirmed: reverse charge on %s", vat_number, ", ".join(changed))
    return verdict.status.value


def recheck_due() -> int:
    """Ask again about numbers open proformas are billed to whose answer is missing or unknown and due.

    Called by the outbox sweeper (every minute). Returns how many checks it handed over.
    """
    rows = db.session.execute(
        sa.select(Invoice.buyer_kind, Invoice.buyer_country, Invoice.buyer_tax_id)
        .where(
            Invoice.kind == DocumentKind.PROFORMA,
            Invoice.status == InvoiceStatus.UNPAID,
            Invoice.amount_paid_minor == 0,
            Invoice.tax_mode == TaxMode.STANDARD,
            Invoice.buyer_tax_id.is_not(None),
        )
        .distinct()
    ).all()
    due = []
    for kind, country, tax_id in rows:
        if not needs_verification(kind, country, tax_id) or tax_id in due:
            continue
        check = latest_check(tax_id)
        if check is not None and (check.status is not VatCheckStatus.UNKNOWN or is_fresh(check)):
            continue  # answered, or too soon to ask again
        due.append(tax_id)
    db.session.rollback()  # end our read before in-process jobs write
    path = "app.invoices.vies.check_vat_number_job"
    return sum(1 for tax_id in due if not waiting_in_queue(path, tax_id) and enqueue(path, tax_id))


def vat_notice(invoice: Invoice) -> str | None:
    """What the proforma and billing pages say when a VAT number is not (yet) confirmed."""
    if invoice.kind is not DocumentKind.PROFORMA or invoice.status is not InvoiceStatus.UNPAID:
        return None
    if invoice.tax_mode is not TaxMode.STANDARD:
        return None
    if not needs_verification(invoice.buyer_kind, invoice.buyer_country, invoice.buyer_tax_id):
        return None
    check = latest_check(invoice.buyer_tax_id)
    if check is not None and check.status is VatCheckStatus.INVALID:
        return f"The EU VIES service says {invoice.buyer_tax_id} is not a registered VAT number, so VAT is charged."
    return (
        f"VAT is charged until the EU VIES service confirms VAT number {invoice.buyer_tax_id}. "
        "We ask again automatically; once it is confirmed, this proforma is recomputed without VAT (reverse charge)."
    )


def recompute_totals(invoice: Invoice) -> None:
    """Tax and totals from the invoice's buyer and lines; reverse charge only for a VIES-confirmed number."""
    verified = needs_verification(invoice.buyer_kind, invoice.buyer_country, invoice.buyer_tax_id) and is_verified(
        invoice.buyer_tax_id
    )
    subtotal = sum(line.amount_minor for line in invoice.lines)
    line_rates = None
    if any(line.tax_rate_bp is not None for line in invoice.lines):
        line_rates = [(line.amount_minor, line.tax_rate_bp) for line in invoice.lines]
    totals = tax_and_totals(
        invoice.buyer_kind,
        invoice.buyer_country,
        invoice.buyer_tax_id,
        subtotal,
        vat_verified=verified,
        line_rates=line_rates,
    )
    for column, value in totals.items():
        setattr(invoice, column, value)
