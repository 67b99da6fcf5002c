#!/usr/bin/env bash
# `make bench`: what the benchmarks need on a fresh machine (as .ci/run does), then bench/run.py.
# PostgreSQL: BENCH_DATABASE_URL if set, else Debian's cluster started by .ci/postgres.sh (as root).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v redis-server >/dev/null || missing+=(redis-server)
if [ -z "${BENCH_DATABASE_URL:-}" ]; then
  command -v pg_ctlcluster >/dev/null && ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bench needs: ${missing[*]} (install them, or run make bench as root)" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi
if [ -z "${BENCH_DATABASE_URL:-}" ] && [ -z "${TEST_PG_HOST:-}" ]; then
  source .ci/postgres.sh
  start_postgres
fi
exec .venv/bin/python bench/run.py "$@"
