"""Routes of the trusted users area."""

from flask import Blueprint

bp = Blueprint("trusted_users", __name__)
