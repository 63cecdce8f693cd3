#!/usr/bin/env bash
# Private PostgreSQL 15 cluster for the storage tests (spec/storage/postgres.spec.ts).
#
#   scripts/pg-test-cluster.sh [start]   start (or reuse) the cluster; prints the URL on stdout
#   scripts/pg-test-cluster.sh stop      stop it and delete its files
#
#   export SWITCHBOARD_PG_URL=$(scripts/pg-test-cluster.sh) && npx mocha spec/storage/postgres.spec.ts
#
# The cluster is disposable test data: trust authentication on loopback only, fsync off for speed.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PORT=${SWITCHBOARD_PG_PORT:-55432}
# A fixed directory per port, so `stop` and repeated `start`s find the same cluster.
BASE=${SWITCHBOARD_PG_DIR:-${TMPDIR:-/tmp}/switchboard-pg-$PORT}
DATA=$BASE/data
DB=switchboard_test
URL="postgres://postgres@127.0.0.1:$PORT/$DB"

say() { echo "pg-test-cluster: $*" >&2; }

# initdb and postgres refuse to run as root; run them as the `postgres` system user then.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

[ -x "$PGBIN/initdb" ] || { say "no PostgreSQL binaries in $PGBIN (apt install postgresql-15, or set PGBIN)"; exit 1; }

case "${1:-start}" in
start)
  if [ ! -f "$DATA/PG_VERSION" ]; then
    mkdir -p "$BASE"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$BASE"
    say "initialising $DATA"
    as_owner "$PGBIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$BASE/initdb.log"
  fi
  if ! as_owner "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    say "starting on 127.0.0.1:$PORT (socket in $BASE)"
    as_owner "$PGBIN/pg_ctl" -D "$DATA" -l "$BASE/server.log" -w -t 30 start \
      -o "-p $PORT -k $BASE -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      >/dev/null
  fi
  if ! as_owner "$PGBIN/psql" -h "$BASE" -p "$PORT" -U postgres -tAc "select 1 from pg_database where datname = '$DB'" postgres |
    grep -q 1; then
    as_owner "$PGBIN/createdb" -h "$BASE" -p "$PORT" -U postgres "$DB"
  fi
  echo "$URL"
  ;;
stop)
  if [ -f "$DATA/PG_VERSION" ]; then
    as_owner "$PGBIN/pg_ctl" -D "$DATA" -w -m fast stop >/dev/null 2>&1 || true
  fi
  rm -rf "$BASE"
  say "stopped and removed $BASE"
  ;;
*)
  say "usage: $0 [start|stop]"
  exit 2
  ;;
esac
