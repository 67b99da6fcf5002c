"""Shared fixtures: an app per test on SQLite and on PostgreSQL, real Redis and
a real SMTP server for the tests that need them.

Services: outside CI a test whose service is not installed is skipped with the
reason; under CI (CI=true) it fails, so a broken CI machine is never green.
PostgreSQL: set TEST_PG_HOST/PORT/USER/PASSWORD to use a running server (what
.ci/run does, as root); otherwise pytest-postgresql starts its own (not as root).
"""

from __future__ import annotations

import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest
from pytest_postgresql import factories

from app import create_app
from app.extensions import db
from config import TestingConfig
from tests.helpers import make_owner

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str):
    """Skip (developer machine) or fail (CI) a test whose service is missing."""
    if IN_CI:
        pytest.fail(f"required service unavailable under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def make_app(database_url: str, **overrides):
    return create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": database_url, **overrides})


def migrate_database(database_url: str) -> None:
    """Build the schema the way production does: `flask db upgrade`."""
    from flask_migrate import upgrade

    app = make_app(database_url)
    with app.app_context():
        upgrade()
        db.engine.dispose()


# --- PostgreSQL -------------------------------------------------------------

PG_HOST = os.environ.get("TEST_PG_HOST")
# Two test runs on one server need their own database names (TEST_PG_DBNAME).
PG_DBNAME = os.environ.get("TEST_PG_DBNAME", "billfold_test")


def _load_pg_template(host, port, user, dbname, password, **_):
    migrate_database(f"postgresql+psycopg://{user}:{password}@{host}:{port}/{dbname}")


def _pg_ctl() -> str | None:
    found = shutil.which("pg_ctl")
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return str(candidates[-1]) if candidates else None


if PG_HOST:
    pg_server = factories.postgresql_noproc(
        host=PG_HOST,
        port=int(os.environ.get("TEST_PG_PORT", "5432")),
        user=os.environ.get("TEST_PG_USER", "postgres"),
        password=os.environ.get("TEST_PG_PASSWORD", ""),
        dbname=PG_DBNAME,
        load=[_load_pg_template],
    )
else:
    pg_server = factories.postgresql_proc(executable=_pg_ctl() or "pg_ctl", dbname=PG_DBNAME, load=[_load_pg_template])
pg_database = factories.postgresql("pg_server")


@pytest.fixture(scope="session")
def pg_available() -> None:
    if PG_HOST:
        return
    if _pg_ctl() is None:
        unavailable("PostgreSQL is not installed (apt-get install postgresql)")
    if os.geteuid() == 0:
        unavailable(
            "PostgreSQL refuses to start as root: set TEST_PG_HOST/PORT/USER/PASSWORD "
            "to a running server (see .ci/run) or run the tests as a normal user"
        )


# --- the app on each database -------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    migrate_database(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def database_url(request, tmp_path) -> str:
    """A migrated, empty database of its own for one test, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "billfold.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    request.getfixturevalue("pg_available")
    info = request.getfixturevalue("pg_database").info
    return f"postgresql+psycopg://{info.user}:{info.password}@{info.host}:{info.port}/{info.dbname}"


@pytest.fixture
def app_overrides(request) -> dict:
    """Config a test module wants on top of TestingConfig: none by default.

    A module (or test) states its config with the `app_config` marker; smtp=True
    points the mail at the `smtp_server` fixture::

        pytestmark = pytest.mark.app_config(smtp=True, SMS_QUIET_START="00:00")

    When the config comes from other fixtures (a gateway, Redis), define a fixture
    of this name in the module instead; pytest uses the nearest one::

        @pytest.fixture
        def app_overrides(smtp_server, redis_url):
            return {**smtp_config(smtp_server), "REDIS_URL": redis_url}
    """
    overrides: dict = {}
    for marker in reversed(list(request.node.iter_markers("app_config"))):  # the closest wins
        fields = dict(marker.kwargs)
        if fields.pop("smtp", False):
            overrides.update(smtp_config(request.getfixturevalue("smtp_server")))
        overrides.update(fields)
    return overrides


@pytest.fixture
def app(database_url, app_overrides):
    """The app on a fresh database. No app context stays pushed: the test client
    must get a new one (and a new `g`) per request, as in production; tests open
    `with app.app_context():` to look at the database."""
    app = make_app(database_url, **app_overrides)
    yield app
    with app.app_context():
        db.engine.dispose()


# --- accounts -------------------------------------------------------------------


@pytest.fixture
def owner(request, app):
    """A committed person client (Romania, EUR) with its owner user, made through
    the sign-up service: owner@example.com / correct-horse-1 (an Account).

    A module (or test) that needs a different owner says so with the `owner`
    marker, whose keywords go to make_owner (SignUp fields)::

        pytestmark = pytest.mark.owner(phone="+40722123456", sms_opt_in=True)
    """
    marker = request.node.get_closest_marker("owner")
    return make_owner(app, **(marker.kwargs if marker else {}))


@pytest.fixture
def other(app):
    """A second, unrelated client (other@example.com) next to `owner`."""
    return make_owner(app, email="other@example.com")


@pytest.fixture
def app_in_context():
    """An app with no database of its own (TestingConfig as is), its app context
    pushed for the whole test: for code that needs only config and url_for."""
    app = create_app(TestingConfig)
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- Redis and SMTP -----------------------------------------------------------


@pytest.fixture
def redis_url(request) -> str:
    """A real redis-server (pytest-redis), emptied after the test."""
    if not shutil.which("redis-server"):
        unavailable("redis-server is not installed (apt-get install redis-server)")
    proc = request.getfixturevalue("redis_proc")
    if not proc.running():
        proc.start()
    from redis import Redis

    yield f"redis://{proc.host}:{proc.port}/0"
    if not proc.running():
        proc.start()
    Redis(host=proc.host, port=proc.port).flushall()


class SmtpCollector:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list = []
        self.refuse: set[str] = set()  # addresses answered 550 at RCPT

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


class SmtpServer:
    """A real aiosmtpd server on a loopback port that can be stopped and started
    again (a new controller each time: aiosmtpd's loop does not restart)."""

    def __init__(self) -> None:
        import port_for

        self.hostname = "127.0.0.1"
        self.port = port_for.select_random()
        self.handler = SmtpCollector()
        self._controller = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self.handler, hostname=self.hostname, port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp_server():
    """A real SMTP server on loopback; `.handler.messages` holds what it received."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def smtp_config(server) -> dict:
    return {"MAIL_BACKEND": "smtp", "MAIL_SERVER": server.hostname, "MAIL_PORT": server.port}


@pytest.fixture
def http_server():
    """A real HTTP server on loopback that records every request it gets."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.hits = hits
    yield server
    server.shutdown()


def pytest_sessionstart(session) -> None:
    """The compiled catalogs (.mo, not committed) from translations/*.po, as `make test` does."""
    import runpy

    runpy.run_path(str(Path(__file__).resolve().parent.parent / "scripts" / "i18n.py"))["compile_all"]()
