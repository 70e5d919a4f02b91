#!/usr/bin/env bash
# The test command: installs what is missing, checks formatting and lints, then runs
# every test (unit tests, and end-to-end tests that start their own Postgres and Redis
# on free loopback ports).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# A one-shot build gains nothing from incremental artefacts, which cost gigabytes of disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
echo "== cargo fmt --check" >&2
cargo fmt --all --check
echo "== cargo clippy (native)" >&2
cargo clippy --all-targets --quiet -- -D warnings
echo "== cargo clippy (wasm components)" >&2
wasm_pkgs=()
for manifest in components/*/Cargo.toml libs/tenant-db/Cargo.toml libs/backend-api/Cargo.toml tests/fixtures/*/Cargo.toml gateway/Cargo.toml; do
  [ -f "$manifest" ] || continue
  wasm_pkgs+=(-p "$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -n 1)")
done
cargo clippy --quiet --target wasm32-wasip2 "${wasm_pkgs[@]}" -- -D warnings
echo "== cargo test" >&2
cargo test --quiet "$@"
