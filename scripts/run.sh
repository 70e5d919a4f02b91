#!/usr/bin/env bash
# The run command: the gateway with two demo tenants on http://*.localhost:3000.
#
# Installs what is missing, builds the components and the host, starts a local
# PostgreSQL when DATABASE_URL is not set (data kept between runs), applies the
# migrations, seeds `acme` and `globex`, and serves spin.toml. Extra arguments go to
# `tenantgate up` (e.g. --listen 127.0.0.1:8080).
#
#   curl -H 'Host: acme.localhost:3000' http://127.0.0.1:3000/api/tasks
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[run] %s\n' "$*" >&2; }

./scripts/setup.sh
./scripts/build-wasm.sh
cargo build --release -p tenantgate-host --bin tenantgate

# The database: yours (a superuser URL, for the migrations), or the project's own.
ADMIN_URL="${DATABASE_URL:-$(./scripts/dev-postgres.sh)}"
PSQL="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)/psql"
[ -x "$PSQL" ] || PSQL=psql
# The components connect as the application role (no superuser, no BYPASSRLS).
APP_URL="${TENANTGATE_APP_DATABASE_URL:-$(printf '%s' "$ADMIN_URL" | sed -E 's#^(postgres(ql)?://)[^@/]*@#\1tenantgate_app@#')}"
HOSTPORT="$(printf '%s' "$ADMIN_URL" | sed -E 's#^postgres(ql)?://([^@/]*@)?([^/?]*).*#\3#')"
case "$HOSTPORT" in *:*) ;; *) HOSTPORT="$HOSTPORT:5432" ;; esac

log "applying migrations (tenantgate migrate) and seeding the demo tenants acme and globex"
./scripts/demo/seed.sh "$ADMIN_URL" ./target/release/tenantgate "$PSQL"

# The context key: generated once, kept beside the data, stored in the database.
mkdir -p .tenantgate
[ -s .tenantgate/context.key ] || { umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > .tenantgate/context.key; }
KEY="$(cat .tenantgate/context.key)"
"$PSQL" "$ADMIN_URL" -X -q -v ON_ERROR_STOP=1 -c \
  "INSERT INTO tenantgate_private.context_keys (kid, key) VALUES ('demo', '\\x$KEY') ON CONFLICT (kid) DO UPDATE SET key = EXCLUDED.key" >/dev/null


export SPIN_VARIABLE_DATABASE_URL="$APP_URL"
export SPIN_VARIABLE_DATABASE_HOST="$HOSTPORT"
export SPIN_VARIABLE_DEDICATED_DATABASE_HOST="$HOSTPORT"
export SPIN_VARIABLE_CONTEXT_KEY="$KEY"
export SPIN_VARIABLE_CONTEXT_KID="demo"
export SPIN_VARIABLE_ANONYMOUS_PERMISSIONS="${SPIN_VARIABLE_ANONYMOUS_PERMISSIONS:-tasks.read}"
log "try: curl -H 'Host: acme.localhost:3000' http://127.0.0.1:3000/api/tasks"
exec ./target/release/tenantgate up --from spin.toml "$@"
