#!/usr/bin/env bash
# Make sure a PostgreSQL server answers on 127.0.0.1 for the tests (the store suite runs on SQLite and on
# PostgreSQL: tests/support/postgres_fixtures.py). Idempotent; called by `make test` and by the test fixture.
#
#   1. Debian's `postgresql` package is installed with apt when no server binary is there (needs root);
#   2. the newest installed major version's cluster `main` is created when missing and started when down
#      (`pg_ctlcluster VERSION main start`), then awaited with pg_isready (at most PG_WAIT seconds, default 60);
#   3. the role `codegen` (LOGIN CREATEDB, password `codegen`) and its database `codegen` are created when
#      missing.
#
# Decision: the tests connect over TCP to 127.0.0.1 with a password (Debian's pg_hba.conf already allows
# scram-sha-256 there), the way a deployment connects, so pg_hba.conf is left as Debian ships it. The role may
# create databases and nothing more: each test makes its own database and drops it. The URL the tests use by
# default is postgresql://codegen:codegen@127.0.0.1:5432/codegen (TEST_DATABASE_URL overrides it; this script
# serves only that default: another server is the operator's to run).
set -euo pipefail

ROLE="${PG_TEST_ROLE:-codegen}"
PASSWORD="${PG_TEST_PASSWORD:-codegen}"
PORT="${PG_TEST_PORT:-5432}"
WAIT="${PG_WAIT:-60}"
LOCK=/tmp/codegen-bot-ensure-postgres.lock

die() { echo "ensure-postgres: $*" >&2; exit 1; }
say() { echo "ensure-postgres: $*" >&2; }

# Fast path, no lock: the role can log in already.
if command -v psql >/dev/null 2>&1 \
    && PGPASSWORD="$PASSWORD" PGCONNECT_TIMEOUT=3 psql -h 127.0.0.1 -p "$PORT" -U "$ROLE" -d "$ROLE" -qAtc 'SELECT 1' \
       >/dev/null 2>&1; then
  exit 0
fi

exec 9>"$LOCK"
flock -w 600 9 || die "another ensure-postgres.sh holds $LOCK for more than 10 minutes"

# --- 1. the package ---------------------------------------------------------------------------------
newest() { ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1; }
if [ -z "$(newest)" ] || [ ! -x "/usr/lib/postgresql/$(newest)/bin/postgres" ] || ! command -v pg_ctlcluster >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] || die "PostgreSQL is not installed; run as root or install Debian's postgresql package"
  say "installing postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  apt-get install -y -qq postgresql >/dev/null || die "apt-get install postgresql failed"
fi
VERSION="$(newest)"
[ -n "$VERSION" ] || die "no PostgreSQL version under /usr/lib/postgresql"

# --- 2. the cluster -----------------------------------------------------------------------------------
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$VERSION main"; then
  [ "$(id -u)" -eq 0 ] || die "no cluster $VERSION/main; run as root"
  say "creating cluster $VERSION/main on port $PORT"
  pg_createcluster "$VERSION" main --port "$PORT" >/dev/null || die "pg_createcluster failed"
fi
if ! pg_lsclusters -h | awk -v v="$VERSION" '$1 == v && $2 == "main" {print $4}' | grep -qx online; then
  say "starting cluster $VERSION/main"
  pg_ctlcluster "$VERSION" main start || die "pg_ctlcluster $VERSION main start failed (log: /var/log/postgresql/)"
fi
for _ in $(seq "$WAIT"); do
  pg_isready -q -h 127.0.0.1 -p "$PORT" && break
  sleep 1
done
pg_isready -q -h 127.0.0.1 -p "$PORT" || die "the server did not answer on 127.0.0.1:$PORT within ${WAIT}s"

# --- 3. the role and its database ----------------------------------------------------------------------
psql_admin() { as_postgres psql -p "$PORT" -v ON_ERROR_STOP=1 -qAt "$@"; }
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != "1" ]; then
  say "creating role $ROLE"
  psql_admin -c "CREATE ROLE \"$ROLE\" LOGIN CREATEDB PASSWORD '$PASSWORD'" || die "CREATE ROLE failed"
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$ROLE'")" != "1" ]; then
  psql_admin -c "CREATE DATABASE \"$ROLE\" OWNER \"$ROLE\"" || die "CREATE DATABASE failed"
fi
PGPASSWORD="$PASSWORD" psql -h 127.0.0.1 -p "$PORT" -U "$ROLE" -d "$ROLE" -qAtc 'SELECT 1' >/dev/null \
  || die "role $ROLE cannot log in on 127.0.0.1:$PORT with its password (check pg_hba.conf)"
