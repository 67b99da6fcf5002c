# Start Debian's PostgreSQL cluster and export TEST_PG_* for the tests.
# Usable on a developer machine too, as root: `source .ci/postgres.sh && start_postgres`.
start_postgres() {
  local version
  version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
  if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$version main"; then
    pg_createcluster "$version" main
  fi
  pg_ctlcluster "$version" main start || pg_ctlcluster "$version" main status
  local port
  port=$(pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $3}')
  # A superuser on this throwaway test cluster: pytest-postgresql terminates the
  # connections to its template database before copying it, and an autovacuum
  # worker (a superuser process) may be among them; a plain role cannot end it.
  su postgres -c "psql -p $port -v ON_ERROR_STOP=1 -q" <<'SQL'
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'billfold_test') THEN
    CREATE ROLE billfold_test LOGIN PASSWORD 'billfold_test';
  END IF;
END
$$;
ALTER ROLE billfold_test WITH LOGIN SUPERUSER CREATEDB PASSWORD 'billfold_test';
SQL
  export TEST_PG_HOST=127.0.0.1 TEST_PG_PORT="$port" TEST_PG_USER=billfold_test TEST_PG_PASSWORD=billfold_test
}
