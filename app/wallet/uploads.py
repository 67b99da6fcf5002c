"""Proof-of-payment files: checked by content, stored outside static/ under a random name."""

from __future__ import annotations

import io
import secrets
from pathlib import Path

from flask import abort, current_app, send_file
from PIL import Image, UnidentifiedImageError

from app.core.errors import ValidationError
from app.core.i18n import _
from app.wallet.models import BankTransfer

_KINDS = {
    b"%PDF-": "application/pdf",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
}


def sniff(data: bytes) -> str | None:
    """The MIME type of a PDF, PNG or JPEG judged by its bytes, else None."""
    mimetype = next((kind for magic, kind in _KINDS.items() if data.startswith(magic)), None)
    if mimetype == "application/pdf":
        return mimetype if b"%%EOF" in data[-2048:] else None
    if mimetype is not None:
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.verify()
                if Image.MIME.get(image.format) != mimetype:
                    return None
        except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
            return None
    return mimetype


def read_upload(stream, max_bytes: int, *, field: str, missing: str) -> bytes:
    """An upload's bytes, read at most once past `max_bytes`. Raises ValidationError(field=`field`)
    when it is empty (`missing` is the message) or larger than `max_bytes`."""
    data = stream.read(max_bytes + 1)
    if not data:
        raise ValidationError(missing, field=field)
    if len(data) > max_bytes:
        raise ValidationError(_("The file is larger than %(size)d MB.", size=max_bytes // (1024 * 1024)), field=field)
    return data


def save_upload(data: bytes, folder: Path, subfolder: str) -> str:
    """Write checked bytes under `folder`/`subfolder` with a random name; returns the name."""
    folder = folder / subfolder
    folder.mkdir(parents=True, exist_ok=True)
    name = secrets.token_hex(16)
    (folder / name).write_bytes(data)
    return name


def stored_path(folder: Path, subfolder: str, name: str) -> Path:
    """The stored file for a name save_upload generated (never a path a user chose).
    Raises FileNotFoundError for anything else."""
    if not name or not all(c in "0123456789abcdef" for c in name):
        raise FileNotFoundError(name)
    return folder / subfolder / name


def store_proof(stream, folder: Path, max_bytes: int) -> tuple[str, str, int]:
    """Save an uploaded proof; returns (stored name, mimetype, size). Raises ValidationError."""
    data = read_upload(stream, max_bytes, field="proof", missing=_("Choose the file with your proof of payment."))
    mimetype = sniff(data)
    if mimetype is None:
        raise ValidationError(_("Upload a PDF, PNG or JPEG file."), field="proof")
    return save_upload(data, folder, "proofs"), mimetype, len(data)


def proof_file(folder: Path, name: str) -> Path:
    """The stored file for a name we generated (never a path the client chose)."""
    return stored_path(folder, "proofs", name)


def send_proof(transfer: BankTransfer):
    """The stored proof as an attachment (owner and staff only: callers check)."""
    if not transfer.proof_path:
        abort(404)
    try:
        path = proof_file(Path(current_app.config["UPLOAD_FOLDER"]), transfer.proof_path)
    except FileNotFoundError:
        abort(404)
    extension = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}[transfer.proof_mimetype]
    return send_file(
        path,
        mimetype=transfer.proof_mimetype,
        as_attachment=True,
        download_name=f"proof-{transfer.reference}.{extension}",
        max_age=0,
    )
