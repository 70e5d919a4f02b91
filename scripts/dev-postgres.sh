#!/usr/bin/env bash
# Starts (or reuses) the project's local PostgreSQL for the demo and prints its superuser
# URL on stdout. Data is kept between runs under .tenantgate/postgres, or, when the
# `postgres` user cannot reach this checkout (e.g. under /root), under
# /var/lib/tenantgate/<checkout hash>/postgres. Listens on 127.0.0.1 only, port
# $TENANTGATE_PG_PORT (default 54329). Stop it with: scripts/dev-postgres.sh stop
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[postgres] %s\n' "$*" >&2; }

PORT="${TENANTGATE_PG_PORT:-54329}"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

DIR="$PWD/.tenantgate/postgres"
if [ "$(id -u)" -eq 0 ]; then
  mkdir -p "$DIR"
  if ! runuser -u postgres -- test -x "$DIR" 2>/dev/null; then
    DIR="/var/lib/tenantgate/$(printf '%s' "$PWD" | sha256sum | cut -c1-12)/postgres"
  fi
  mkdir -p "$DIR"
  chown -R postgres "$DIR"
else
  mkdir -p "$DIR"
fi
DATA="$DIR/data"

if [ "${1:-}" = "stop" ]; then
  as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >&2 || true
  exit 0
fi

if [ ! -f "$DATA/PG_VERSION" ]; then
  log "initialising a cluster in $DATA"
  as_pg "$BIN/initdb" -D "$DATA" -A trust -U postgres -E UTF8 --locale=C >/dev/null
fi
if ! as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  log "starting on 127.0.0.1:$PORT (data: $DATA)"
  as_pg "$BIN/pg_ctl" -D "$DATA" -w -l "$DIR/server.log" \
    -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1" start >/dev/null
fi
echo "postgres://postgres@127.0.0.1:$PORT/postgres"
