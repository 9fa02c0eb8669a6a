#!/usr/bin/env bash
# Install (from Debian's packages, if missing) and start a throwaway PostgreSQL cluster on
# loopback for the tests and benchmarks. Prints the database URL on stdout.
#   scripts/pg.sh          start (idempotent)
#   scripts/pg.sh stop     stop it
set -euo pipefail
PORT=${KIMIA_PG_PORT:-55432}
DATA=${KIMIA_PG_DATA:-/tmp/kimia-pg-$PORT}
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)

if [ "${1:-start}" = "stop" ]; then
  [ -n "$BIN" ] && [ -d "$DATA" ] && runuser -u postgres -- "$BIN/pg_ctl" -D "$DATA" -m fast stop >/dev/null 2>&1 || true
  exit 0
fi

if [ -z "$BIN" ]; then
  if [ "$(id -u)" != 0 ]; then echo "PostgreSQL is not installed and this is not root" >&2; exit 1; fi
  echo "installing PostgreSQL from Debian's packages..." >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-contrib >&2
  BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
fi

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if [ ! -f "$DATA/PG_VERSION" ]; then
  mkdir -p "$DATA"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$DATA"
  as_pg "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  cat >> "$DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DATA'
max_connections = 200
shared_buffers = 256MB
fsync = on
synchronous_commit = on
CONF
fi
if ! as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  as_pg "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w start >/dev/null
fi
for db in kimia_test kimia_bench; do
  if ! "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1; then
    "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -qc "CREATE DATABASE $db" >/dev/null
  fi
done
echo "postgresql+psycopg://postgres@127.0.0.1:$PORT/kimia_test"
