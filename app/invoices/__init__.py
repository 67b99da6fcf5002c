"""Proformas, tax invoices and the billing run."""

from flask import Blueprint

bp = Blueprint("invoices", __name__)
