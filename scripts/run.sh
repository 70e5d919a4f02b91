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

TENANTGATE=./target/release/tenantgate
# shellcheck source=demo/env.sh
. ./scripts/demo/env.sh
log "try: curl -H 'Host: acme.localhost:3000' http://127.0.0.1:3000/api/tasks"
exec ./target/release/tenantgate up --from spin.toml "$@"
