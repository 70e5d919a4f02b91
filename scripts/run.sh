#!/usr/bin/env bash
# The run command: installs what is missing, builds the components and the host,
# and serves the app on http://127.0.0.1:3000 (extra arguments go to `tenantgate up`).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build-wasm.sh
cargo build --release -p tenantgate-host --bin tenantgate
exec ./target/release/tenantgate up --from spin.toml "$@"
