#!/usr/bin/env bash
# The test command: installs what is missing, checks formatting and lints, then runs
# every test (unit tests, and end-to-end tests that start their own Postgres and Redis
# on free loopback ports).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
echo "== cargo fmt --check" >&2
cargo fmt --all --check
echo "== cargo clippy (native)" >&2
cargo clippy --all-targets --quiet -- -D warnings
echo "== cargo clippy (wasm components)" >&2
cargo clippy --quiet --target wasm32-wasip2 -p welcome -p fixture-hello -p fixture-probe -p fixture-rogue -- -D warnings
echo "== cargo test" >&2
cargo test --quiet "$@"
