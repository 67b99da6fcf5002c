"""My details and privacy operations: profile changes with their log, avatars,
the account's data export and erasure requests. They flush, never commit."""

from __future__ import annotations

import base64
import enum
import io
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError

from app.audit.services import record
from app.clients.models import Client, ProfileChange, User
from app.clients.services import lock_client
from app.core.actors import Actor
from app.core.errors import ValidationError
from app.core.i18n import _
from app.extensions import db
from app.hosting.models import Product, Service
from app.invoices.models import BillingProfile, Invoice
from app.notify.models import EmailMessage, SmsMessage
from app.notify.services import archived_text, queue_email
from app.profile.models import ErasureRequest
from app.security.models import LoginEvent, UserSession
from app.wallet.models import BankTransfer, LedgerEntry, Payment, SavedCard

AVATAR_MAX_BYTES = 2 * 1024 * 1024
AVATAR_MAX_SIDE = 256
# Decoding cost is set by pixels, not bytes: a 2 MB file can claim 50000x50000.
AVATAR_MAX_PIXELS = 40_000_000
_AVATAR_FORMATS = {"PNG", "JPEG", "GIF", "WEBP"}

#: Where each My details field is stored: on the user or on their client.
USER_FIELDS = {"name": "name", "phone": "phone", "sms_opt_in": "sms_opt_in", "language": "language"}
CLIENT_FIELDS = {
    "kind": "kind",
    "billing_name": "name",
    "company_name": "company_name",
    "tax_id": "tax_id",
    "address_line1": "address_line1",
    "address_line2": "address_line2",
    "city": "city",
    "region": "region",
    "postcode": "postcode",
    "country": "country",
}

#: My details fields staff can make read-only (Client.locked_fields holds these names).
LOCKABLE_FIELDS: dict[str, str] = {
    "name": "Your name",
    "phone": "Mobile phone",
    "sms_opt_in": "SMS notifications",
    "language": "Interface language",
    "kind": "Account type",
    "billing_name": "Name on invoices",
    "company_name": "Company name",
    "tax_id": "VAT number / tax ID",
    "address_line1": "Address",
    "address_line2": "Address (line 2)",
    "city": "City",
    "region": "County / region",
    "postcode": "Postal code",
    "country": "Country",
}


class FieldLocked(ValidationError):
    def __init__(self, field: str) -> None:
        super().__init__(_("This field can't be changed from your account. Contact us to change this."), field=field)


def current_details(user: User) -> dict[str, Any]:
    """The stored My details values by form-field name."""
    values = {name: getattr(user, attr) for name, attr in USER_FIELDS.items()}
    values |= {name: getattr(user.client, attr) for name, attr in CLIENT_FIELDS.items()}
    values["kind"] = values["kind"].value
    return values


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


def _log(user: User, field: str, old: Any, new: Any, actor: Actor) -> ProfileChange:
    return ProfileChange(
        client_id=user.client_id,
        user_id=user.id,
        actor=str(actor),
        field=field,
        old_value=_as_text(old),
        new_value=_as_text(new),
        ip=actor.ip,
    )


def update_details(user: User, values: Mapping[str, Any], *, actor: Actor) -> list[ProfileChange]:
    """Store the My details `values` of `user` and their client; one log row per changed field
    (by `actor`, from its IP).

    Raises FieldLocked if a field staff locked would change, and ValidationError
    for SMS alerts without a phone; nothing is changed then.
    """
    client = lock_client(user.client_id)  # one profile edit of an account at a time
    db.session.refresh(user)  # compare with what is committed now, under the lock
    locked = set(client.locked_fields or [])
    planned = []
    for name, new in values.items():
        target, attr = (user, USER_FIELDS[name]) if name in USER_FIELDS else (client, CLIENT_FIELDS[name])
        old = getattr(target, attr)
        if _as_text(old) == _as_text(new):
            continue
        if name in locked:
            raise FieldLocked(name)
        planned.append((name, target, attr, old, new))
    phone = values.get("phone", user.phone)
    if values.get("sms_opt_in", user.sms_opt_in) and not phone:
        raise ValidationError(_("Enter a mobile number to receive SMS alerts."), field="sms_opt_in")
    changes = []
    for name, target, attr, old, new in planned:
        setattr(target, attr, new)
        changes.append(_log(user, name, old, new, actor))
    db.session.add_all(changes)
    db.session.flush()
    return changes


def avatar_png(data: bytes) -> bytes:
    """`data` (PNG, JPEG, GIF or WebP) as a PNG of at most 256x256, metadata dropped.

    Raises ValidationError (field "avatar") for anything else or too large.
    """
    if not data:
        raise ValidationError(_("Choose an image to upload."), field="avatar")
    if len(data) > AVATAR_MAX_BYTES:
        raise ValidationError(_("The image is larger than 2 MB."), field="avatar")
    refused = _("Upload a PNG, JPEG, GIF or WebP image.")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in _AVATAR_FORMATS:
                raise ValidationError(refused, field="avatar")
            if image.width * image.height > AVATAR_MAX_PIXELS:
                raise ValidationError(_("The image has too many pixels: upload a smaller one."), field="avatar")
            image = ImageOps.exif_transpose(image)  # first frame, upright as the camera meant
            has_alpha = "A" in image.mode or "transparency" in image.info
            image = image.convert("RGBA" if has_alpha else "RGB")
            image.thumbnail((AVATAR_MAX_SIDE, AVATAR_MAX_SIDE), Image.Resampling.LANCZOS)
            out = io.BytesIO()
            image.save(out, "PNG", optimize=True)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ValidationError(refused, field="avatar") from None
    return out.getvalue()


def set_avatar(user: User, data: bytes | None, *, actor: Actor) -> None:
    """Store `data` (re-encoded) as the user's avatar, or remove it when None; logged as `actor`'s.

    Raises ValidationError (field "avatar") for a file we do not accept.
    """
    png = avatar_png(data) if data is not None else None
    lock_client(user.client_id)
    had = db.session.scalar(sa.select(User.avatar_png.is_not(None)).where(User.id == user.id))
    if png is None and not had:
        return
    user.avatar_png = png
    db.session.add(_log(user, "avatar", "image" if had else None, "image" if png else None, actor))
    db.session.flush()


def open_erasure_request(client_id: int) -> ErasureRequest | None:
    return db.session.scalar(
        sa.select(ErasureRequest).where(ErasureRequest.client_id == client_id, ErasureRequest.status == "open")
    )


def request_erasure(user: User, reason: str | None) -> tuple[ErasureRequest, bool]:
    """The account's open erasure request, made now if there is none; (request, created).

    Staff act on it in the admin. The owner gets a confirmation email.
    """
    lock_client(user.client_id)  # two clicks at once still make one request
    existing = open_erasure_request(user.client_id)
    if existing is not None:
        return existing, False
    request = ErasureRequest(client_id=user.client_id, user_id=user.id, reason=reason or None, status="open")
    db.session.add(request)
    db.session.flush()
    queue_email("erasure_request", to=user, client=user.client, erasure=request)
    return request, True


# --- the data export ----------------------------------------------------------

# Columns never exported: credentials, secrets and internal file names.
_NOT_EXPORTED = {
    "users": {"password_hash", "totp_secret", "totp_last_step", "security_stamp", "reset_nonce", "avatar_png"},
    "user_sessions": {"token"},
    "saved_cards": {"token"},
    "bank_transfers": {"proof_path"},
    "email_messages": {"body_html"},
}


def _row(obj) -> dict[str, Any]:
    table = obj.__table__.name
    skip = _NOT_EXPORTED.get(table, set())
    return {col.key: getattr(obj, col.key) for col in sa.inspect(type(obj)).column_attrs if col.key not in skip}


def _rows(model, *where, order_by=None) -> list[dict[str, Any]]:
    query = sa.select(model).where(*where).order_by(order_by if order_by is not None else model.id)
    return [_row(obj) for obj in db.session.scalars(query)]


def account_data(client: Client) -> dict[str, Any]:
    """Everything stored about `client`, as plain values (datetimes, enums, ints, text)."""
    user_ids = [u.id for u in client.users]
    users = []
    for user in client.users:
        row = _row(user)
        avatar = db.session.scalar(sa.select(User.avatar_png).where(User.id == user.id))
        row["avatar_png_base64"] = base64.b64encode(avatar).decode() if avatar else None
        users.append(row)
    services = _rows(Service, Service.client_id == client.id)
    products = {p.id: p.name for p in db.session.scalars(sa.select(Product))}
    for service in services:
        service["product_name"] = products.get(service["product_id"])
    invoices = []
    for invoice in db.session.scalars(sa.select(Invoice).where(Invoice.client_id == client.id).order_by(Invoice.id)):
        invoices.append(_row(invoice) | {"lines": [_row(line) for line in invoice.lines]})
    return {
        "client": _row(client),
        "users": users,
        "billing_profiles": _rows(BillingProfile, BillingProfile.client_id == client.id),
        "services": services,
        "invoices": invoices,
        "ledger_entries": _rows(LedgerEntry, LedgerEntry.client_id == client.id),
        "payments": _rows(Payment, Payment.client_id == client.id),
        "bank_transfers": _rows(BankTransfer, BankTransfer.client_id == client.id),
        "saved_cards": _rows(SavedCard, SavedCard.client_id == client.id),
        "emails": _export_emails(client, user_ids),
        "sms_messages": _rows(SmsMessage, SmsMessage.client_id == client.id),
        "login_events": _rows(LoginEvent, LoginEvent.user_id.in_(user_ids)),
        "sessions": _rows(UserSession, UserSession.user_id.in_(user_ids)),
        "profile_changes": _rows(ProfileChange, ProfileChange.client_id == client.id),
        "erasure_requests": _rows(ErasureRequest, ErasureRequest.client_id == client.id),
    }


def _export_emails(client: Client, user_ids: list[int]) -> list[dict[str, Any]]:
    """The account's emails with secret links (reset, invite, login, email change) removed,
    as the notifications archive shows them to the owner."""
    owner = client.owner
    rows = []
    query = sa.select(EmailMessage).where(
        sa.or_(EmailMessage.client_id == client.id, EmailMessage.user_id.in_(user_ids))
    )
    for message in db.session.scalars(query.order_by(EmailMessage.id)):
        row = _row(message)
        row["body_text"] = archived_text(message, owner)
        row.pop("body_html", None)
        rows.append(row)
    return rows


def json_default(value: Any) -> Any:
    """json.dumps fallback for the export's values."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"not exportable: {type(value).__name__}")


# --- staff's settings of an account (the profile's Settings tab in the admin) ----------------

#: Billing-run days a client may have of its own (None: the global setting, by config key).
AUTOMATION_DAYS: dict[str, str] = {
    "renewal_days_before": "RENEWAL_DAYS_BEFORE",
    "suspend_days_after": "SUSPEND_DAYS_AFTER",
    "terminate_days_after": "TERMINATE_DAYS_AFTER",
}
#: Automation switches a client may have turned off (None: on, the global behaviour).
AUTOMATION_SWITCHES: dict[str, str] = {
    "auto_suspend": "Suspend and terminate overdue services",
    "send_reminders": "Email payment reminders",
    "send_sms": "Send SMS",
}
MAX_AUTOMATION_DAYS = 365


def effective_days(client: Client, name: str) -> int:
    """The days setting `name` the billing run uses for `client`: its own, else the global one."""
    own = getattr(client, name)
    return own if own is not None else current_app.config[AUTOMATION_DAYS[name]]


def update_client_settings(
    client_id: int, *, locked_fields: list[str], overrides: Mapping[str, int | bool | None], actor: Actor
) -> list[str]:
    """Store staff's settings of a client: the My details fields the client may not edit,
    and its automation overrides (AUTOMATION_DAYS and AUTOMATION_SWITCHES names; None
    for the global setting). Writes one audit entry per changed setting, old -> new.
    Returns the names changed.

    Raises ValidationError (nothing changed) for an unknown field or setting, days
    outside 0..MAX_AUTOMATION_DAYS, or termination before suspension.
    """
    client = lock_client(client_id)
    unknown = set(locked_fields) - LOCKABLE_FIELDS.keys()
    if unknown:
        raise ValidationError(f"Unknown field: {', '.join(sorted(unknown))}.", field="locked_fields")
    for name, value in overrides.items():
        if name not in AUTOMATION_DAYS and name not in AUTOMATION_SWITCHES:
            raise ValidationError(f"Unknown setting {name}.", field=name)
        if name in AUTOMATION_DAYS and value is not None and not 0 <= value <= MAX_AUTOMATION_DAYS:
            raise ValidationError(f"Enter a number of days from 0 to {MAX_AUTOMATION_DAYS}.", field=name)
    planned = {"locked_fields": [name for name in LOCKABLE_FIELDS if name in locked_fields], **overrides}

    def days(name: str) -> int:
        value = planned.get(name, getattr(client, name))
        return value if value is not None else current_app.config[AUTOMATION_DAYS[name]]

    if days("terminate_days_after") < days("suspend_days_after"):
        raise ValidationError(
            f"Termination ({days('terminate_days_after')} days) cannot come before suspension "
            f"({days('suspend_days_after')} days after the due date).",
            field="terminate_days_after",
        )
    changed = []
    for name, new in planned.items():
        old = getattr(client, name)
        if _setting_text(name, old) == _setting_text(name, new):
            continue
        setattr(client, name, new)
        record(
            actor,
            f"client.settings.{name}",
            client_id=client.id,
            target=f"client:{client.id}",
            old=_setting_text(name, old),
            new=_setting_text(name, new),
        )
        changed.append(name)
    db.session.flush()
    return changed


def _setting_text(name: str, value) -> str:
    """A setting as the audit log shows it."""
    if name == "locked_fields":
        return ", ".join(value or []) or "none"
    if value is None:
        return "default"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)
