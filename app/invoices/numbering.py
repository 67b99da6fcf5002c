"""Gapless, per-year document numbers: F-2026-000123.

A number is taken by incrementing the series row inside the caller's
transaction: the row stays locked until commit, so concurrent payments queue up
and a rolled-back payment gives its number back.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.core.sql import insert_ignoring_conflicts
from app.extensions import db
from app.invoices.models import DocumentKind, InvoiceSequence

SERIES = {DocumentKind.PROFORMA: "PF", DocumentKind.TAX_INVOICE: "F", DocumentKind.CREDIT_NOTE: "CN"}


def format_number(series: str, year: int, number: int) -> str:
    return f"{series}-{year}-{number:06d}"


def take_numbers(kind: DocumentKind, year: int, count: int = 1) -> list[str]:
    """Reserve `count` consecutive numbers of `kind` for `year` (one UPDATE)."""
    series = SERIES[kind]
    insert_ignoring_conflicts(InvoiceSequence, {"series": series, "year": year, "last_number": 0})
    last = db.session.execute(
        sa.update(InvoiceSequence)
        .where(InvoiceSequence.series == series, InvoiceSequence.year == year)
        .values(last_number=InvoiceSequence.last_number + count)
        .returning(InvoiceSequence.last_number)
    ).scalar_one()
    return [format_number(series, year, n) for n in range(last - count + 1, last + 1)]


def take_number(kind: DocumentKind, year: int) -> str:
    return take_numbers(kind, year, 1)[0]
