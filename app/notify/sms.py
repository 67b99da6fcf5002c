"""SMS delivery: segment counting, quiet hours, abuse limits, backends and the job.

The notification handlers write `SmsMessage` rows (after `sms_allowed` said yes);
`app.core.queue` enqueues `send_sms(row_id)` once the writing transaction
commits, and `flask outbox flush` (the sweeper) enqueues again whatever is still
queued and due.

Delivery is AT MOST ONCE. A duplicate SMS costs money and annoys the client, a
missing one is visible in admin, so we prefer the second:

* `send_sms` locks the row, marks it `sending` and COMMITS before calling the
  gateway. If the worker dies mid-send, the row stays `sending`; a later job (an
  RQ re-run, or the sweeper, which hands over `sending` rows whose lease has run
  out) does not send it again but marks it `failed` with "delivery outcome
  unknown". A row still inside its lease (another worker is sending it right
  now) is left alone ("busy").
* A job run twice for a message already `sent`/`failed` does nothing.
* A send that raised (gateway answered non-2xx, connection refused, timeout) is
  put back to `queued` with a backoff and retried, up to SMS_MAX_ATTEMPTS. A
  timeout after the gateway accepted the message could in theory duplicate it:
  every request carries `Idempotency-Key: sms-<id>` (the same on every retry) so
  a gateway that honours it drops the copy.

The `http` backend POSTs a JSON object (UTF-8) to SMS_HTTP_URL with the fields
named by SMS_HTTP_FIELD_TO / _TEXT / _FROM, `Authorization: Bearer <token>` when
SMS_HTTP_TOKEN is set, and expects any 2xx answer; the provider's message id is
read from a JSON answer's "id" when there is one. Redirects are not followed
(a 3xx is a failure).
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import sqlalchemy as sa
from flask import current_app

from app.core.i18n import _, current_language
from app.core.queue import job
from app.core.types import utcnow
from app.extensions import db
from app.hosting.models import Service, ServiceStatus
from app.invoices.models import DocumentKind, Invoice, InvoiceStatus
from app.notify.errors import DeliveryFailed
from app.notify.models import SmsMessage, SmsStatus

if TYPE_CHECKING:
    from collections.abc import Callable

    from app.clients.models import User

log = logging.getLogger(__name__)

__all__ = [
    "UNKNOWN_OUTCOME",
    "deliver_sms",
    "fits_one_segment",
    "gsm7_segments",
    "quiet_hours_delay",
    "send_console",
    "send_http",
    "send_sms",
    "sending_lease",
    "sms_allowed",
    "sms_reach_problem",
]

# --- segments -----------------------------------------------------------------

# GSM 03.38 basic character set (without ESC, 0x1B, which introduces the extension table).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each costs two septets (ESC + the character).
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153  # septets: one message / each part of a split one
UCS2_SINGLE, UCS2_PART = 70, 67  # UTF-16 code units


def _gsm7_costs(text: str) -> list[int] | None:
    """Septets per character, or None if a character is not in GSM-7."""
    costs = []
    for char in text:
        if char in GSM7_BASIC:
            costs.append(1)
        elif char in GSM7_EXTENSION:
            costs.append(2)
        else:
            return None
    return costs


def _count_parts(costs: list[int], single: int, part: int) -> int:
    """Segments for characters of these costs; a character never straddles two parts."""
    if sum(costs) <= single:
        return 1
    parts, used = 1, 0
    for cost in costs:
        if used + cost > part:
            parts, used = parts + 1, 0
        used += cost
    return parts


def gsm7_segments(text: str) -> int:
    """How many SMS segments `text` takes.

    GSM-7 when every character is in the basic or extension table (extension
    characters such as € [ ] count double): 160 septets in one SMS, 153 per part
    when split. Any other character (ș, ț, emoji...) makes the whole message
    UCS-2: 70 UTF-16 units in one SMS, 67 per part. An escape pair or a
    surrogate pair is never split across two parts. The empty text is 1.
    """
    costs = _gsm7_costs(text)
    if costs is not None:
        return _count_parts(costs, GSM7_SINGLE, GSM7_PART)
    return _count_parts([2 if ord(c) > 0xFFFF else 1 for c in text], UCS2_SINGLE, UCS2_PART)


def fits_one_segment(text: str) -> bool:
    return gsm7_segments(text) == 1


# --- quiet hours ----------------------------------------------------------------


def _parse_hhmm(value: str | time) -> time:
    if isinstance(value, time):
        return value
    hours, _, minutes = value.strip().partition(":")
    return time(int(hours), int(minutes or 0))


def _zone(timezone_name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(timezone_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r; quiet hours use UTC", timezone_name)
        return ZoneInfo("UTC")


def quiet_hours_delay(now_utc: datetime, timezone_name: str, start: str | time, end: str | time) -> datetime | None:
    """When the quiet window ends, in UTC, if `now_utc` falls inside it; else None.

    `start`/`end` are local wall-clock times ("20:00", "09:00") in the client's
    IANA time zone; the window is [start, end) and wraps midnight when start >
    end. The end is built on the local calendar date and converted through
    zoneinfo, so it is 09:00 local on either side of a DST change. start == end
    means no quiet hours.
    """
    start_t, end_t = _parse_hhmm(start), _parse_hhmm(end)
    if start_t == end_t:
        return None
    zone = _zone(timezone_name)
    local = now_utc.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if start_t < end_t:  # e.g. 01:00-06:00, within one day
        if not (start_t <= clock < end_t):
            return None
        ends_on = local.date()
    else:  # wraps midnight, e.g. 20:00-09:00
        if clock >= start_t:
            ends_on = local.date() + timedelta(days=1)
        elif clock < end_t:
            ends_on = local.date()
        else:
            return None
    return datetime.combine(ends_on, end_t, tzinfo=zone).astimezone(ZoneInfo("UTC"))


# --- abuse limits ----------------------------------------------------------------

_REFUSED_TYPES = {
    phonenumbers.PhoneNumberType.PREMIUM_RATE: "premium-rate numbers get no SMS",
    phonenumbers.PhoneNumberType.SHARED_COST: "shared-cost numbers get no SMS",
}


def sms_reach_problem(phone: str | None) -> str | None:
    """Why our SMS cannot reach `phone` (E.164), as a sentence for the customer, or None.

    Forms ask it when a user opts in, so the refusal is said when the choice is
    made, not discovered as SMS that never come (sms_allowed checks again at send).
    """
    from babel import Locale

    if not phone:
        return None
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None  # the phone field reports its own error
    allowed = sorted({code.strip().upper() for code in current_app.config["SMS_COUNTRIES"]})
    names = Locale.parse(current_language()).territories
    region = phonenumbers.region_code_for_number(parsed)
    if region not in allowed:
        countries = ", ".join(sorted(names.get(code, code) for code in allowed))
        if region and region in names:
            return _(
                "We cannot send SMS to numbers in %(country)s. Untick SMS alerts to keep this number without them "
                "(SMS reach numbers in %(countries)s).",
                country=names[region],
                countries=countries,
            )
        return _(
            "We cannot send SMS to numbers in this country. Untick SMS alerts to keep this number without them "
            "(SMS reach numbers in %(countries)s).",
            countries=countries,
        )
    if phonenumbers.number_type(parsed) in _REFUSED_TYPES:
        return _("We cannot send SMS to premium-rate or shared-cost numbers: enter a mobile number.")
    return None


#: What counts against the daily caps: sent, being sent, or waiting to be sent.
_COUNTED_AGAINST_CAP = (SmsStatus.QUEUED, SmsStatus.SENDING, SmsStatus.SENT)


def sms_allowed(user: User, *, phone: str | None, client_id: int, now: datetime | None = None) -> str | None:
    """Why an SMS to `phone` for `user` must not be written, or None if it may.

    Refused unless: the user opted in; staff did not turn SMS off for the account;
    `phone` is exactly the number the user entered (their own, stored E.164);
    phonenumbers parses and validates it and it is not a premium-rate/shared-cost
    number; its region is in SMS_COUNTRIES;
    and fewer than SMS_DAILY_CAP_PER_NUMBER / SMS_DAILY_CAP_PER_ACCOUNT SMS (sent or
    still to send; not cancelled or failed) were written in the last 24 hours
    for this number / this account.
    Call it before writing the row, in the same transaction.
    """
    config = current_app.config
    now = now or utcnow()
    if not phone:
        return "no phone number"
    if not getattr(user, "sms_opt_in", False):
        return "the user did not opt in to SMS"
    if user.client_id != client_id:
        return "the user does not belong to this account"
    if user.client.send_sms is False:
        return "staff turned SMS off for this account"
    if phone != user.phone:
        return "not the user's own phone number"
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return "phone number cannot be parsed"
    if not phonenumbers.is_valid_number(parsed):
        return "invalid phone number"
    if phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) != phone:
        return "phone number is not in E.164 form"
    region = phonenumbers.region_code_for_number(parsed)
    allowed = {code.strip().upper() for code in config["SMS_COUNTRIES"]}
    if region not in allowed:
        return f"SMS to {region} numbers is not allowed"
    refused_type = _REFUSED_TYPES.get(phonenumbers.number_type(parsed))
    if refused_type:
        return refused_type

    since = now - timedelta(hours=24)
    # Only SMS that were sent or are on their way count: one cancelled because its
    # proforma was paid (or that failed) never reached the phone.
    recent = sa.select(sa.func.count(SmsMessage.id)).where(
        SmsMessage.created_at > since, SmsMessage.status.in_(_COUNTED_AGAINST_CAP)
    )
    if db.session.scalar(recent.where(SmsMessage.phone == phone)) >= config["SMS_DAILY_CAP_PER_NUMBER"]:
        return "daily SMS cap reached for this number"
    if db.session.scalar(recent.where(SmsMessage.client_id == client_id)) >= config["SMS_DAILY_CAP_PER_ACCOUNT"]:
        return "daily SMS cap reached for this account"
    return None


# --- backends --------------------------------------------------------------------


class Outgoing(Protocol):
    id: int
    phone: str
    sender: str
    body: str


@dataclass(frozen=True)
class OutgoingSms:
    """What a backend needs, copied from the row so no transaction stays open while sending."""

    id: int
    phone: str
    sender: str
    body: str


def send_console(message: Outgoing) -> str:
    """Development backend: log the message (the row is the stored copy)."""
    log.info("SMS #%s from %s to %s: %s", message.id, message.sender, message.phone, message.body)
    print(
        f"--- SMS #{message.id} from {message.sender} to {message.phone}\n{message.body}\n--- end of SMS #{message.id}",
        flush=True,
    )
    return f"console-{message.id}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # the 3xx surfaces as an HTTPError: a failure


def send_http(message: Outgoing) -> str:
    """POST the message as JSON to the configured gateway; the provider's id.

    Raises on a network error or any non-2xx answer (the job retries).
    """
    config = current_app.config
    url = config["SMS_HTTP_URL"]
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"SMS_HTTP_URL must be an http(s) URL, not {url!r}")
    payload = {
        config["SMS_HTTP_FIELD_TO"]: message.phone,
        config["SMS_HTTP_FIELD_TEXT"]: message.body,
        config["SMS_HTTP_FIELD_FROM"]: message.sender,
    }
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Accept": "application/json",
        "Idempotency-Key": f"sms-{message.id}",
        "User-Agent": "billfold-sms/1",
    }
    if config["SMS_HTTP_TOKEN"]:
        headers["Authorization"] = f"Bearer {config['SMS_HTTP_TOKEN']}"
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url, data=json.dumps(payload).encode(), headers=headers, method="POST"
    )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        # urllib raises HTTPError for every answer outside 2xx (3xx too: redirects are refused).
        with opener.open(request, timeout=config["SMS_HTTP_TIMEOUT"]) as response:
            body = response.read(65536)
    except urllib.error.HTTPError as exc:
        detail = exc.read(300).decode("utf-8", "replace").strip()
        raise RuntimeError(f"SMS gateway answered HTTP {exc.code}: {detail}") from exc
    try:
        answer = json.loads(body) if body.strip() else None
    except ValueError:
        answer = None
    if isinstance(answer, dict) and answer.get("id") not in (None, ""):
        return str(answer["id"])[:100]
    return f"http-{message.id}"


BACKENDS: dict[str, Callable[[Outgoing], str]] = {"console": send_console, "http": send_http}


def deliver_sms(message: Outgoing) -> str:
    """Send with the configured backend; the provider id. Raises on failure."""
    name = current_app.config["SMS_BACKEND"]
    try:
        backend = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown SMS_BACKEND {name!r}") from None
    return backend(message)


# --- the job -----------------------------------------------------------------------

UNKNOWN_OUTCOME = "delivery outcome unknown (worker stopped while sending); not resent to avoid a duplicate"


def sending_lease() -> timedelta:
    """How long a `sending` row belongs to the job sending it.

    Longer than an RQ job may run (job_timeout 120 s) and than the HTTP timeout:
    past it the sender is surely dead and the row's outcome is unknown.
    """
    return timedelta(seconds=max(180, 3 * current_app.config["SMS_HTTP_TIMEOUT"]))


def _lock(message_id: int, *, skip_locked: bool) -> SmsMessage | None:
    return db.session.scalar(
        sa.select(SmsMessage).where(SmsMessage.id == message_id).with_for_update(skip_locked=skip_locked)
    )


def _transition(message_id: int, condition: sa.ColumnElement[bool], **values) -> bool:
    """UPDATE the row to `values` if `condition` still holds; whether it did."""
    result = db.session.execute(
        sa.update(SmsMessage)
        .where(SmsMessage.id == message_id, condition)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def still_true(event_key: str) -> bool:
    """Whether what the SMS says still holds: it may wait hours (quiet hours, retries).

    "renewal:<number>": the proforma is still unpaid. "suspended:<service id>:<day>":
    the service is still suspended.
    """

    kind, _, rest = event_key.partition(":")
    if kind == "renewal":
        status = db.session.scalar(
            sa.select(Invoice.status).where(Invoice.number == rest, Invoice.kind == DocumentKind.PROFORMA)
        )
        return status in (None, InvoiceStatus.UNPAID)  # cancelled only when known to be settled
    if kind == "suspended":
        service_id = rest.partition(":")[0]
        if not service_id.isdigit():
            return True
        return (
            db.session.scalar(sa.select(Service.status).where(Service.id == int(service_id))) is ServiceStatus.SUSPENDED
        )
    return True


@job(queue="sms")
def send_sms(message_id: int) -> str:
    """Send one outbox SMS at most once. Returns what happened.

    "sent", "cancelled" (no longer true: the proforma was paid, the service is
    back), "failed" (gave up after SMS_MAX_ATTEMPTS), "waiting" (quiet hours:
    left queued for the sweeper), "busy" (another job holds it), "skipped"
    (already sent/failed, or gone), "unknown" (found `sending` past its lease:
    marked failed, not resent). Raises DeliveryFailed after a failed attempt
    that will be retried.
    """
    message = _lock(message_id, skip_locked=True)
    if message is None:
        db.session.rollback()
        exists = db.session.scalar(sa.select(SmsMessage.id).where(SmsMessage.id == message_id))
        db.session.rollback()
        return "busy" if exists else "skipped"
    now = utcnow()
    if message.status is SmsStatus.SENDING:
        return _resolve_stale_sending(message, now)
    if message.status is not SmsStatus.QUEUED:
        db.session.rollback()
        return "skipped"
    if (message.not_before is not None and message.not_before > now) or (
        message.next_attempt_at is not None and message.next_attempt_at > now
    ):
        db.session.rollback()
        return "waiting"

    if not still_true(message.event_key):
        _transition(message_id, SmsMessage.status == SmsStatus.QUEUED, status=SmsStatus.CANCELLED, next_attempt_at=None)
        db.session.commit()
        return "cancelled"

    outgoing = OutgoingSms(message.id, message.phone, message.sender, message.body)
    # Compare-and-set queued -> sending: atomic even where FOR UPDATE is a no-op
    # (SQLite), so two concurrent jobs never both send.
    claimed = _transition(
        message_id,
        sa.and_(
            SmsMessage.status == SmsStatus.QUEUED,
            sa.or_(SmsMessage.next_attempt_at.is_(None), SmsMessage.next_attempt_at <= now),
        ),
        status=SmsStatus.SENDING,
        attempts=SmsMessage.attempts + 1,
        last_attempt_at=now,
    )
    db.session.commit()  # from here a crash leaves `sending`: never sent blindly again
    if not claimed:
        return "busy"
    return _attempt(message_id, outgoing)


def _resolve_stale_sending(message: SmsMessage, now) -> str:
    """A message found `sending`: another job's ("busy"), or past its lease with no answer
    recorded: marked failed, never sent blindly again ("unknown")."""
    message_id = message.id
    stale = now - sending_lease()
    if message.last_attempt_at is not None and message.last_attempt_at > stale:
        db.session.rollback()
        return "busy"
    # Compare-and-set: only if nobody resolved it meanwhile.
    resolved = _transition(
        message_id,
        sa.and_(
            SmsMessage.status == SmsStatus.SENDING,
            sa.or_(SmsMessage.last_attempt_at.is_(None), SmsMessage.last_attempt_at <= stale),
        ),
        status=SmsStatus.FAILED,
        last_error=UNKNOWN_OUTCOME,
        next_attempt_at=None,
    )
    db.session.commit()
    if not resolved:
        return "busy"
    log.warning("SMS #%s: %s", message_id, UNKNOWN_OUTCOME)
    return "unknown"


def _attempt(message_id: int, outgoing: OutgoingSms) -> str:
    """Hand the claimed message to the gateway once and record what it answered."""
    try:
        provider_id = deliver_sms(outgoing)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
        message = _lock(message_id, skip_locked=False)
        message.last_error = error
        attempts = message.attempts
        if attempts >= current_app.config["SMS_MAX_ATTEMPTS"]:
            message.status = SmsStatus.FAILED
            message.next_attempt_at = None
            db.session.commit()
            log.warning("SMS #%s failed for good after %s attempts: %s", message_id, attempts, error)
            return "failed"
        intervals = current_app.config["OUTBOX_RETRY_INTERVALS"]
        message.status = SmsStatus.QUEUED
        message.next_attempt_at = utcnow() + timedelta(seconds=intervals[min(attempts, len(intervals)) - 1])
        db.session.commit()
        raise DeliveryFailed(error) from exc

    message = _lock(message_id, skip_locked=False)
    message.status = SmsStatus.SENT
    message.provider_id = provider_id[:100]
    message.sent_at = utcnow()
    message.last_error = None
    message.next_attempt_at = None
    db.session.commit()
    return "sent"
