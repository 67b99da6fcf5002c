"""The customer's account: sign-up, login, dashboard."""

from flask import Blueprint

bp = Blueprint("account", __name__)

from app.account import views  # noqa: E402,F401
