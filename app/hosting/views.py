"""Routes of the hosting area."""

from flask import Blueprint

bp = Blueprint("hosting", __name__)
