"""Hosting services, the catalog and the cart."""

from flask import Blueprint

bp = Blueprint("hosting", __name__)
