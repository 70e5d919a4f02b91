#!/usr/bin/env bash
# The run command: the gateway with two demo tenants on http://*.localhost:3000.
#
# Installs what is missing, builds the components and the host, starts a local
# PostgreSQL when DATABASE_URL is not set (data kept between runs), applies the
# migrations, seeds `acme` and `globex`, starts their demo identity providers (an OIDC
# IdP for acme, a SAML IdP for globex, on loopback), and serves spin.toml. Extra arguments go to
# `tenantgate up` (e.g. --listen 127.0.0.1:8080).
#
#   curl -H 'Host: acme.localhost:3000' http://127.0.0.1:3000/api/tasks
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[run] %s\n' "$*" >&2; }

./scripts/setup.sh
./scripts/build-wasm.sh
cargo build --release -p tenantgate --bin tenantgate

TENANTGATE=./target/release/tenantgate
# shellcheck source=demo/env.sh
. ./scripts/demo/env.sh
# shellcheck source=demo/idps.sh
. ./scripts/demo/idps.sh
log "try: curl -H 'Host: acme.localhost:3000' http://127.0.0.1:3000/api/tasks"
log "platform console: http://localhost:3000/platform (sign in with: $TENANTGATE platform token)"
# The scheduled control-plane work (README "jobs"), hourly, beside the server.
"$TENANTGATE" jobs --every 3600 --database-url "$ADMIN_URL" >/dev/null &
DEMO_JOBS_PID=$!
stop_idps() {
  kill "$DEMO_JOBS_PID" 2>/dev/null || true
  [ -z "$DEMO_IDP_PIDS" ] || kill $DEMO_IDP_PIDS 2>/dev/null || true
}
trap stop_idps EXIT
trap 'exit 130' INT TERM
./target/release/tenantgate up --from spin.toml "$@"
