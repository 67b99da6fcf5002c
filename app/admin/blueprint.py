"""The admin blueprint, shared by the admin's view modules (each registers its routes)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
