"""The wallet ledger, payments and statements."""

from flask import Blueprint

bp = Blueprint("wallet", __name__)
