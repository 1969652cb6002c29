# Sourced by .ci/run: make a PostgreSQL server available to the node's
# dataset tests and export INDOMAIN_TEST_PG. Idempotent: installs the server
# only if it is absent, starts the first cluster only if it is down, creates
# the test role and database only if they are missing. CI runs as root and
# PostgreSQL refuses to run as root, so the server and the admin commands run
# as the `postgres` system user. The tests connect over TCP on loopback
# without TLS (see docs/operations.md: PostgreSQL datasets).
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
fi
pg_cluster=$(pg_lsclusters --no-header | head -n1)
if [ -z "$pg_cluster" ]; then
  pg_createcluster "$(ls /usr/lib/postgresql | sort -n | tail -n1)" main
  pg_cluster=$(pg_lsclusters --no-header | head -n1)
fi
read -r pg_version pg_name pg_port pg_status _ <<<"$pg_cluster"
if [ "$pg_status" != "online" ]; then
  pg_ctlcluster "$pg_version" "$pg_name" start
fi
pg_admin() { runuser -u postgres -- psql -p "$pg_port" -v ON_ERROR_STOP=1 -qtA "$@"; }
if [ "$(pg_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'indomain_test'")" != "1" ]; then
  pg_admin -c "CREATE ROLE indomain_test LOGIN PASSWORD 'indomain_test'"
fi
if [ "$(pg_admin -c "SELECT 1 FROM pg_database WHERE datname = 'indomain_test'")" != "1" ]; then
  pg_admin -c "CREATE DATABASE indomain_test OWNER indomain_test"
fi
export INDOMAIN_TEST_PG="host=127.0.0.1 port=$pg_port user=indomain_test password=indomain_test dbname=indomain_test"
echo "PostgreSQL $pg_version/$pg_name on port $pg_port: INDOMAIN_TEST_PG set"
