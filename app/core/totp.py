"""Time-based one-time passwords (RFC 6238) and one-time recovery codes: the
arithmetic both client users (app.security) and staff (app.staff) sign in with.
Where seeds and codes are stored is each domain's business."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp
import segno


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_qr_svg(account: str, issuer: str, secret: str) -> str:
    """The enrolment QR code as inline SVG (no image request, no external service)."""
    uri = pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)
    return segno.make(uri, micro=False).svg_inline(scale=4, dark="#1c2033")


def matching_step(secret: str | None, code: str, at: float | None = None) -> int | None:
    """The TOTP time step `code` belongs to (now, or one step either side), if any."""
    code = "".join(code.split())
    if secret is None or not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now_step = int((at or time.time()) // totp.interval)
    for step in (now_step - 1, now_step, now_step + 1):
        if hmac.compare_digest(totp.at(step * totp.interval), code):
            return step
    return None


def hash_recovery_code(code: str) -> str:
    """How a recovery code is stored: typed with or without spaces, dashes or capitals."""
    return hashlib.sha256("".join(code.lower().split()).replace("-", "").encode()).hexdigest()


def new_recovery_codes(count: int = 10) -> list[str]:
    """Fresh codes like 'a1b2c-3d4e5', shown once."""
    return ["-".join(secrets.token_hex(5)[i : i + 5] for i in (0, 5)) for _ in range(count)]
