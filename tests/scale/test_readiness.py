"""/readyz for a load balancer (database and Redis answer), and the PgBouncer engine option."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_app

ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TestReadyWithRedis:
    @pytest.fixture
    def app_overrides(self, redis_url):
        return {"REDIS_URL": redis_url}

    @pytest.mark.redis
    def test_ready_when_the_database_and_redis_answer(self, client, owner):
        response = client.get("/readyz")

        assert response.status_code == 200
        assert response.json == {"status": "ready"}
        assert response.headers["Cache-Control"] == "no-store"
        assert "Set-Cookie" not in response.headers  # no session, no login


class TestRedisDown:
    @pytest.fixture
    def app_overrides(self):
        return {"REDIS_URL": f"redis://127.0.0.1:{closed_port()}/0"}

    def test_unavailable_when_redis_does_not_answer(self, client):
        response = client.get("/readyz")

        assert response.status_code == 503
        assert response.json == {"status": "unavailable", "failed": ["redis"]}


def test_ready_without_redis_in_the_embedded_shape(client):
    assert client.get("/readyz").json == {"status": "ready"}


@pytest.mark.postgresql
def test_unavailable_when_the_database_does_not_answer(pg_available):
    app = make_app(f"postgresql+psycopg://nobody:nothing@127.0.0.1:{closed_port()}/none")

    response = app.test_client().get("/readyz")

    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "failed": ["database"]}


def test_healthz_stays_liveness_only_when_the_database_is_down(pg_available):
    app = make_app(f"postgresql+psycopg://nobody:nothing@127.0.0.1:{closed_port()}/none")

    assert app.test_client().get("/healthz").status_code == 200


PREPARE_THRESHOLD = (
    "from app import create_app\n"
    "from app.extensions import db\n"
    "with create_app().app_context(), db.engine.connect() as conn:\n"
    "    print(conn.connection.dbapi_connection.prepare_threshold)\n"
)


@pytest.mark.postgresql
@pytest.mark.parametrize(("pgbouncer", "threshold"), [("1", "None"), ("0", "5")])
def test_database_pgbouncer_turns_psycopg_prepared_statements_off(pg_available, pg_database, pgbouncer, threshold):
    """DATABASE_PGBOUNCER=1 (PgBouncer in transaction mode) reaches the engine's connections."""
    info = pg_database.info
    env = {
        **os.environ,
        "BILLFOLD_ENV": "production",
        "SECRET_KEY": "readiness-test-secret",
        "SERVER_NAME": "billing.example.test",
        "ALLOW_TEST_GATEWAY": "1",
        "RATELIMIT_STORAGE_URI": "memory://",
        "DATABASE_URL": f"postgresql://{info.user}:{info.password}@{info.host}:{info.port}/{info.dbname}",
        "DATABASE_PGBOUNCER": pgbouncer,
    }
    env.pop("REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", PREPARE_THRESHOLD], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == threshold
