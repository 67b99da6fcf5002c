"""Through a real PgBouncer in transaction mode: prepared statements off, the run locks still hold."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.billing.jobs import BILLING_RUN_LOCK, billing_run_job
from app.clients.models import Client
from app.extensions import db
from app.invoices.models import Invoice, InvoiceStatus
from app.wallet.models import EntryKind, LedgerEntry
from app.wallet.services import balance_mismatches, pay_invoices_from_wallet, post_entry
from config import engine_options
from tests.conftest import make_app, unavailable
from tests.helpers import credit, make_owner, make_proforma, make_service
from tests.scale.test_run_locks import HeldElsewhere
from tests.support.concurrency import run_together

pytestmark = pytest.mark.postgresql


def pgbouncer_binary() -> str:
    found = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None)
    if found is None:
        unavailable("pgbouncer is not installed (apt-get install pgbouncer)")
    return found


@pytest.fixture
def pgbouncer_url(pg_available, pg_database, tmp_path_factory):
    """A PgBouncer (transaction mode, 2 server connections) in front of the test database."""
    info = pg_database.info
    port = _free_port()
    folder = tmp_path_factory.mktemp("pgbouncer")
    folder.chmod(0o755)  # pgbouncer drops root for the postgres user
    config = folder / "pgbouncer.ini"
    config.write_text(
        "[databases]\n"
        f"billfold = host={info.host} port={info.port} dbname={info.dbname} user={info.user} password={info.password}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        "auth_type = any\npool_mode = transaction\ndefault_pool_size = 2\nmax_client_conn = 100\n"
        "ignore_startup_parameters = extra_float_digits,options\n" + ("user = postgres\n" if _is_root() else "")
    )
    config.chmod(0o644)
    process = subprocess.Popen(
        [pgbouncer_binary(), str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        _wait_for_port(port, process)
        yield f"postgresql+psycopg://{info.user}:{info.password}@127.0.0.1:{port}/billfold"
    finally:
        process.terminate()
        process.communicate(timeout=10)


def _is_root() -> bool:
    return os.geteuid() == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen) -> None:
    for _ in range(100):
        if process.poll() is not None:
            unavailable(f"pgbouncer did not start: {process.communicate()[0][-1000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    unavailable("pgbouncer did not open its port")


@pytest.fixture
def app(pgbouncer_url):
    app = make_app(pgbouncer_url, SQLALCHEMY_ENGINE_OPTIONS=engine_options(pgbouncer=True))
    yield app
    with app.app_context():
        db.engine.dispose()


def test_concurrent_payments_and_top_ups_through_pgbouncer_keep_the_ledger(app):
    """Twenty sessions over two server connections, a statement run far more often than
    psycopg's prepare threshold (5): with prepared statements on, a statement prepared on one
    server connection is missing on the next ("prepared statement "_pg3_0" does not exist")."""
    owner = make_owner(app)
    number = make_proforma(app, owner.client_id, 10000)
    credit(app, owner.client_id, 15000)
    with app.app_context():
        invoice_id = db.session.scalar(sa.select(Invoice.id).where(Invoice.number == number))

    def read_the_balance_again_and_again():
        for _ in range(20):  # each a transaction of its own: any of the server connections
            db.session.scalar(sa.select(Client.balance_minor).where(Client.id == owner.client_id))
            db.session.commit()

    def top_up():
        read_the_balance_again_and_again()
        post_entry(owner.client_id, 500, EntryKind.ADJUSTMENT, key=uuid.uuid4().hex, actor="staff:1", description="t")

    def pay():
        read_the_balance_again_and_again()
        pay_invoices_from_wallet(owner.client_id, [invoice_id], key=uuid.uuid4().hex, actor="user:1")

    errors = run_together(app, [pay for _ in range(10)] + [top_up for _ in range(10)])

    assert [type(e).__name__ for e in errors] == ["InvoiceNotPayable"] * 9
    with app.app_context():
        assert db.session.get(Invoice, invoice_id).status is InvoiceStatus.PAID
        kinds = db.session.scalars(sa.select(LedgerEntry.kind).where(LedgerEntry.kind == EntryKind.INVOICE_PAYMENT))
        assert len(list(kinds)) == 1
        assert balance_mismatches() == []
    assert app.test_client().get("/readyz").json == {"status": "ready"}


def test_the_billing_run_lock_holds_through_pgbouncer(app):
    owner = make_owner(app)
    make_service(app, owner.client_id, due=date(2026, 12, 10))
    other = HeldElsewhere(app, BILLING_RUN_LOCK)
    try:
        with app.app_context():
            skipped = billing_run_job("2026-12-01")
    finally:
        other.release()
    with app.app_context():
        done = billing_run_job("2026-12-01")

    assert skipped["skipped"] == "another billing run is in progress"
    assert done["proformas"] == 1
