"""The PostgreSQL server the benchmarks use (the test server of .ci/postgres.sh by default)."""

from __future__ import annotations

import os

import psycopg


def server_url() -> str:
    if os.environ.get("BENCH_DATABASE_URL"):
        return os.environ["BENCH_DATABASE_URL"].rsplit("/", 1)[0]
    host = os.environ.get("TEST_PG_HOST", "127.0.0.1")
    port = os.environ.get("TEST_PG_PORT", "5432")
    user = os.environ.get("TEST_PG_USER", "billfold_test")
    password = os.environ.get("TEST_PG_PASSWORD", "billfold_test")
    return f"postgresql+psycopg://{user}:{password}@{host}:{port}"


def fresh_database(name: str) -> str:
    """An empty database called `name` (dropped first if it exists); its SQLAlchemy URL."""
    base = server_url()
    plain = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{plain}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"
