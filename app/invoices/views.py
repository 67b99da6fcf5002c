"""Routes of the invoices area."""

from flask import Blueprint

bp = Blueprint("invoices", __name__)
