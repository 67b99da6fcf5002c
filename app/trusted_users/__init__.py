"""Extra people who may use a client account."""

from flask import Blueprint

bp = Blueprint("trusted_users", __name__)
