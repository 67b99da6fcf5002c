"""Routes of the wallet area."""

from flask import Blueprint

bp = Blueprint("wallet", __name__)
