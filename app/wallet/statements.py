"""The account statement document (PDF or CSV): what the client downloads from the wallet
page and staff from the client's profile, rendered in one place."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping

from flask import current_app, render_template
from flask.wrappers import Response

from app.clients.models import Client
from app.core.dates import today
from app.core.errors import ValidationError
from app.core.money import to_decimal
from app.core.pdf import render_pdf
from app.core.templating import local_time
from app.wallet.forms import StatementForm
from app.wallet.services import Statement, account_statement


def statement_period(client: Client, args: Mapping) -> tuple[StatementForm, Statement]:
    """The period asked in `args` (start, end: this month so far when absent) and its statement.
    An end before the start is shown beside the end date, with the start day's statement."""
    form = StatementForm(args)
    form.validate()
    start, end = form.period(today(client.timezone))  # the client's days, as the entries are shown
    form.start.data, form.end.data = start, end
    try:
        result = account_statement(client, start, end)
    except ValidationError as error:
        form.end.errors = [error.message]
        result = account_statement(client, start, start)
    return form, result


def statement_download(client: Client, result: Statement, kind: str | None) -> Response | None:
    """The statement as an attachment, "pdf" or "csv"; None for any other `kind` (the page)."""
    name = f"statement-{client.id}-{result.start:%Y%m%d}-{result.end:%Y%m%d}"
    if kind == "csv":
        return current_app.response_class(
            statement_csv(result, client.timezone),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if kind == "pdf":
        pdf = render_pdf(render_template("pdf/statement.html", statement=result, client=client))
        return current_app.response_class(
            pdf, mimetype="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'}
        )
    return None


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """Neutralize a cell a spreadsheet would run as a formula (CSV injection)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def statement_csv(result: Statement, zone_name: str | None = None) -> str:
    """The statement as CSV, times in `zone_name` (the client's), whoever downloads it."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Date", "Description", "Reference", "Credit", "Debit", "Balance", "Currency"])
    writer.writerow(
        [
            result.start.isoformat(),
            "Opening balance",
            "",
            "",
            "",
            to_decimal(result.opening_minor, result.currency),
            result.currency,
        ]
    )
    for entry in result.entries:
        credit = to_decimal(entry.amount_minor, entry.currency) if entry.amount_minor > 0 else ""
        debit = to_decimal(-entry.amount_minor, entry.currency) if entry.amount_minor < 0 else ""
        writer.writerow(
            [
                local_time(entry.created_at, "%Y-%m-%d %H:%M", zone_name),
                spreadsheet_safe(entry.description),
                spreadsheet_safe(entry.kind.label),
                credit,
                debit,
                to_decimal(entry.balance_after_minor, entry.currency),
                entry.currency,
            ]
        )
    writer.writerow(
        [
            result.end.isoformat(),
            "Closing balance",
            "",
            "",
            "",
            to_decimal(result.closing_minor, result.currency),
            result.currency,
        ]
    )
    return out.getvalue()
