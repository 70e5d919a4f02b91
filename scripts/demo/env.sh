# Sourced, not run: prepares the demo database and exports the environment the app runs
# with, for scripts/run.sh and scripts/spin-conformance.sh (the same variables whichever
# runtime serves spin.toml).
#
# Uses $DATABASE_URL (a superuser URL, for the migrations) or starts the project's own
# local PostgreSQL; applies the migrations; seeds acme (shared) and globex (schema
# tenant_globex); stores the context key (generated once, kept in .tenantgate/); and
# exports ADMIN_URL, PSQL and the SPIN_VARIABLE_* settings. Needs $TENANTGATE, the path of
# the tenantgate binary (for `tenantgate migrate`).

demo_log() { printf '[demo] %s\n' "$*" >&2; }

# The database: yours, or the project's own.
ADMIN_URL="${DATABASE_URL:-$(./scripts/dev-postgres.sh)}"
PSQL="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)/psql"
[ -x "$PSQL" ] || PSQL=psql
# The components connect as the application role (no superuser, no BYPASSRLS).
APP_URL="${TENANTGATE_APP_DATABASE_URL:-$(printf '%s' "$ADMIN_URL" | sed -E 's#^(postgres(ql)?://)[^@/]*@#\1tenantgate_app@#')}"
# The gateway's tenant lookups connect as the directory role (backends' role cannot call them).
DIRECTORY_URL="${TENANTGATE_DIRECTORY_DATABASE_URL:-$(printf '%s' "$ADMIN_URL" | sed -E 's#^(postgres(ql)?://)[^@/]*@#\1tenantgate_directory@#')}"
# Both connect with the settings of control/connection-options.conf pinned in their startup packet
# (`options=-c statement_timeout=0 ...`): a role-level setting a backend persists with `ALTER ROLE CURRENT_USER
# SET ...` (possible on Spin, which does not filter statements) then changes none of these connections. A URL
# of yours that already sets `options` is used as it is.
pin_pg_url() {
  case "$1" in *'?options='*|*'&options='*) printf '%s' "$1"; return ;; esac
  local opts
  opts="$(grep -v '^[[:space:]]*#' control/connection-options.conf | grep . \
    | sed -e 's/\\/\\\\/g; s/ /\\ /g; s/^/-c /' | paste -sd' ' \
    | sed -e 's/%/%25/g; s/\\/%5C/g; s/ /%20/g; s/=/%3D/g; s/,/%2C/g; s/"/%22/g; s/\$/%24/g')"
  case "$1" in *'?'*) printf '%s&options=%s' "$1" "$opts" ;; *) printf '%s?options=%s' "$1" "$opts" ;; esac
}
APP_URL="$(pin_pg_url "$APP_URL")"
DIRECTORY_URL="$(pin_pg_url "$DIRECTORY_URL")"
HOSTPORT="$(printf '%s' "$ADMIN_URL" | sed -E 's#^postgres(ql)?://([^@/]*@)?([^/?]*).*#\3#')"
case "$HOSTPORT" in *:*) ;; *) HOSTPORT="$HOSTPORT:5432" ;; esac

demo_log "applying migrations (tenantgate migrate) and seeding the demo tenants acme and globex"
./scripts/demo/seed.sh "$ADMIN_URL" "$TENANTGATE" "$PSQL"

# The context key: generated once, kept beside the data, stored in the database.
mkdir -p .tenantgate
[ -s .tenantgate/context.key ] || (umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > .tenantgate/context.key)
DEMO_KEY="$(cat .tenantgate/context.key)"
"$PSQL" "$ADMIN_URL" -X -q -v ON_ERROR_STOP=1 -c \
  "INSERT INTO tenantgate_private.context_keys (kid, key) VALUES ('demo', '\\x$DEMO_KEY') ON CONFLICT (kid) DO UPDATE SET key = EXCLUDED.key" >/dev/null

export ADMIN_URL PSQL
export SPIN_VARIABLE_DATABASE_URL="$APP_URL"
export SPIN_VARIABLE_DIRECTORY_DATABASE_URL="$DIRECTORY_URL"
export SPIN_VARIABLE_DATABASE_HOST="$HOSTPORT"
export SPIN_VARIABLE_DEDICATED_DATABASE_HOST="$HOSTPORT"
export SPIN_VARIABLE_CONTEXT_KEY="$DEMO_KEY"
export SPIN_VARIABLE_CONTEXT_KID="demo"
export SPIN_VARIABLE_ANONYMOUS_PERMISSIONS="${SPIN_VARIABLE_ANONYMOUS_PERMISSIONS:-tasks.read}"
# The platform's issuer, local (its key generated once, kept in .tenantgate/): platform admins
# sign in to the console at http://localhost:3000/platform with a token from
# `tenantgate platform token`. Set SPIN_VARIABLE_JWT_ISSUERS yourself to use your own IdPs.
export SPIN_VARIABLE_JWT_ISSUERS="${SPIN_VARIABLE_JWT_ISSUERS:-[$("$TENANTGATE" platform jwks --key .tenantgate/platform.key)]}"
