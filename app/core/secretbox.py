"""Secrets we must read back (TOTP seeds), stored encrypted.

AES-256-GCM with a key derived (HKDF-SHA256) from SECRET_KEY and a purpose,
so a copy of the database alone does not reveal them. The purpose is also the
associated data: a value sealed for one use does not open for another. While
SECRET_KEY is rotated, values sealed with a key in SECRET_KEY_FALLBACKS still
open (and are sealed again with the new key the next time they are written).
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

PREFIX = "v1:"


class SealBroken(Exception):
    """The value was not sealed by us (for this purpose), or the key is gone."""


def _key(secret_key: str, purpose: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"billfold secretbox {purpose}".encode())
    return hkdf.derive(secret_key.encode())


def seal(plaintext: str, purpose: str, *, secret_key: str | None = None) -> str:
    key = _key(secret_key or current_app.config["SECRET_KEY"], purpose)
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), purpose.encode())
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def open_sealed(value: str, purpose: str) -> tuple[str, bool]:
    """(the plaintext, whether it was sealed with the current SECRET_KEY). Raises SealBroken."""
    if not value.startswith(PREFIX):
        raise SealBroken("not a sealed value")
    raw = value.removeprefix(PREFIX)
    try:
        data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (binascii.Error, ValueError):
        raise SealBroken("not a sealed value") from None
    if len(data) < 12 + 16:
        raise SealBroken("too short to be a sealed value")
    nonce, sealed = data[:12], data[12:]
    keys = [current_app.config["SECRET_KEY"], *current_app.config.get("SECRET_KEY_FALLBACKS", [])]
    for index, secret_key in enumerate(keys):
        try:
            plaintext = AESGCM(_key(secret_key, purpose)).decrypt(nonce, sealed, purpose.encode())
        except InvalidTag:
            continue
        return plaintext.decode(), index == 0
    raise SealBroken("no key opens this value")


def unseal(value: str, purpose: str) -> str:
    return open_sealed(value, purpose)[0]
