"""`flask einvoice`: a tax document's e-invoice, printed and checked."""

from __future__ import annotations

import sys

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from app.einvoice.ubl import document_xml
from app.einvoice.validation import validate
from app.extensions import db
from app.invoices.models import TAX_DOCUMENTS, Invoice

einvoice_cli = click.Group("einvoice", help="E-invoices (UBL 2.1: RO e-Factura CIUS-RO, Peppol BIS 3.0).")


@einvoice_cli.command("ubl")
@click.argument("number")
@click.option("--profile", type=click.Choice(["ciusro", "peppol"]), default="ciusro", show_default=True)
@with_appcontext
def ubl_command(number: str, profile: str) -> None:
    """Print the XML of tax invoice or credit note NUMBER; exit 1, the broken rules on stderr, if it is not valid."""
    invoice = db.session.scalar(sa.select(Invoice).where(Invoice.number == number))
    if invoice is None or invoice.kind not in TAX_DOCUMENTS:
        raise click.ClickException(f"no tax invoice or credit note {number}")
    xml = document_xml(invoice, profile)
    sys.stdout.buffer.write(xml)
    failures = validate(xml, profile)
    for failure in failures:
        click.echo(f"{failure.rule} at {failure.location}: {failure.text}", err=True)
    if failures:
        raise SystemExit(1)


@einvoice_cli.command("sweep")
@with_appcontext
def sweep_command() -> None:
    """Upload, and ask ANAF about, every e-Factura document that is due (what `rq cron` does every 5 minutes)."""
    from app.einvoice.jobs import efactura_sweep_job

    if not current_app.config.get("EFACTURA_ENABLED"):
        raise click.ClickException("e-Factura is off: set EFACTURA_ENABLED, EFACTURA_CIF and EFACTURA_ACCESS_TOKEN")
    click.echo(f"{efactura_sweep_job()} e-invoice(s) handed over")
