#!/usr/bin/env bash
# Builds the app's wasm components (release, wasm32-wasip2): what `spin build` does.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --target wasm32-wasip2 -p gateway -p tasks -p orgs -p platform
