"""Flask CLI commands: demo data, staff accounts, the outbox sweeper."""

from __future__ import annotations

import time

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from app.benchdata import PASSWORD, STAFF_EMAIL, seed_bench
from app.billing.jobs import billing_run_once
from app.core.dates import today
from app.core.errors import ValidationError
from app.demo import seed_demo
from app.einvoice.cli import einvoice_cli
from app.extensions import db
from app.notify.models import EmailMessage, MessageStatus
from app.notify.outbox import flush_outbox
from app.staff.privileges import DEFAULT_ROLES
from app.staff.services import create_staff, role_named
from app.wallet.services import balance_mismatches

outbox_cli = AppGroup("outbox", help="The email/SMS outbox.")
billing_cli = AppGroup("billing", help="Billing: the daily run.")
wallet_cli = AppGroup("wallet", help="Client balances.")


@wallet_cli.command("verify")
def wallet_verify_command() -> None:
    """Recompute every balance from its ledger entries; exit 1 on any mismatch."""

    mismatches = balance_mismatches()
    for client_id, cached, computed in mismatches:
        click.echo(f"client {client_id}: balance {cached} but ledger entries sum to {computed} (minor units)")
    if mismatches:
        raise SystemExit(1)
    click.echo("all balances match their ledger entries")


@billing_cli.command("run")
@click.option("--date", "run_date", type=click.DateTime(formats=["%Y-%m-%d"]), help="Business date (default: today).")
def billing_run_command(run_date) -> None:
    """Create renewal proformas, suspend and terminate overdue services. Idempotent."""
    day = run_date.date() if run_date else today()
    result = billing_run_once(day)
    if result is None:
        click.echo(f"billing run {day}: skipped, another billing run is in progress (it holds the lock)")
        return
    click.echo(
        f"billing run {result.run_date}: {len(result.proforma_ids)} renewal proforma(s), "
        f"{len(result.suspended_ids)} service(s) suspended, {len(result.terminated_ids)} terminated, "
        f"{result.cancelled_proformas} proforma(s) cancelled, {len(result.cancelled_orders)} unpaid order(s) cancelled"
    )


@outbox_cli.command("retry-failed")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="Only emails created on or after this day.")
def outbox_retry_failed_command(since) -> None:
    """Queue failed emails again (after a mail outage longer than the retries), then flush.

    Emails the mail server refused for good (a 5xx about recipients or content) stay failed."""
    from datetime import UTC

    import sqlalchemy as sa

    refused = sa.or_(  # the server refused these for good (a 5xx about the message): not again
        EmailMessage.last_error.like("SMTPRecipientsRefused%"), EmailMessage.last_error.like("SMTPDataError%")
    )
    query = sa.update(EmailMessage).where(
        EmailMessage.status == MessageStatus.FAILED, sa.or_(EmailMessage.last_error.is_(None), ~refused)
    )
    if since:
        query = query.where(EmailMessage.created_at >= since.replace(tzinfo=UTC))
    requeued = db.session.execute(
        query.values(status=MessageStatus.QUEUED, attempts=0, next_attempt_at=None, last_error=None).execution_options(
            synchronize_session=False
        )
    ).rowcount
    db.session.commit()
    found, handed = flush_outbox()
    click.echo(f"{requeued} failed email(s) queued again; {found} queued message(s), {handed} handed to the queue.")


@outbox_cli.command("flush")
@click.option("--now", "ignore_backoff", is_flag=True, help="Also retry messages still in their backoff delay.")
def outbox_flush_command(ignore_backoff: bool) -> None:
    """Enqueue every message waiting in the outbox whose retry time has come."""
    found, handed = flush_outbox(ignore_backoff=ignore_backoff)
    click.echo(f"{found} queued message(s), {handed} handed to the queue.")
    if handed < found:
        raise SystemExit(1)


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Create the demo data (staff, catalog, a client with invoices) unless it exists."""

    seed_demo(log=click.echo)
    click.echo("demo data ready")


@click.command("seed-bench")
@with_appcontext
@click.option("--clients", type=click.IntRange(min=1), default=10_000, show_default=True)
def seed_bench_command(clients: int) -> None:
    """Fill an empty PostgreSQL database with a large host's data, for the benchmarks (bench/)."""
    started = time.perf_counter()
    try:
        bench = seed_bench(clients, log=click.echo)
    except RuntimeError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"{clients:,} clients seeded in {time.perf_counter() - started:.0f} s; clients with thousands of "
        f"invoices: {', '.join(map(str, bench.heavy_clients))}; sign in as client<id>@bench.example or "
        f"{STAFF_EMAIL} with {PASSWORD}"
    )


@click.command("create-staff")
@with_appcontext
@click.option("--email", prompt=True)
@click.option("--name", prompt=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--superuser/--no-superuser", default=False, help="Grant every privilege.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    help=f"A role to hold (repeatable): one made by staff, or a default one ({', '.join(DEFAULT_ROLES)}).",
)
def create_staff_command(email: str, name: str, password: str, superuser: bool, roles: tuple[str, ...]) -> None:
    """Add a staff member who can log in at /admin/login (with a second factor, set up at the first sign-in)."""
    if len(password) < 12:
        raise click.BadParameter("use at least 12 characters", param_hint="--password")
    try:
        staff = create_staff(email, name, password, superuser=superuser)
        staff.roles.extend(role_named(role) for role in roles)
    except ValidationError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    held = ", ".join(role.name for role in staff.roles) or ("every privilege" if superuser else "no role yet")
    click.echo(f"staff #{staff.id} {staff.email} created ({held})")


def init_app(app: Flask) -> None:
    commands = (outbox_cli, billing_cli, einvoice_cli, wallet_cli, seed_demo_command, seed_bench_command)
    for command in (*commands, create_staff_command):
        app.cli.add_command(command)
