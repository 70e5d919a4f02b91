#!/usr/bin/env bash
# Loopback load on the release host: throughput and latency of `hello` directly and
# through one service-chaining hop (`relay` -> `hello`), and the host's peak RSS with
# 200 connections in flight. Prints wrk's reports; figures go to BENCHMARKS.md.
#
# Usage: ./scripts/bench-load.sh [seconds-per-run]   (default 10)
# TENANTGATE_BIN=path runs that host binary instead of the release build (to compare builds).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
./scripts/setup.sh
if ! command -v wrk >/dev/null; then
  apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
fi
cargo build --quiet --release -p tenantgate --bin tenantgate
cargo build --quiet --release --target wasm32-wasip2 -p fixture-hello -p fixture-relay
wasm="$PWD/target/wasm32-wasip2/release"
dir=$(mktemp -d)
trap 'kill -TERM "${pid:-0}" 2>/dev/null || true; rm -rf "$dir"' EXIT
cat > "$dir/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "bench"
[[trigger.http]]
route = "/hello"
component = "hello"
[[trigger.http]]
route = "/relay"
component = "relay"
[component.hello]
source = "$wasm/fixture_hello.wasm"
[component.relay]
source = "$wasm/fixture_relay.wasm"
allowed_outbound_hosts = ["http://hello.spin.internal"]
TOML
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
TENANTGATE_LOG="${TENANTGATE_LOG:-info}" "${TENANTGATE_BIN:-./target/release/tenantgate}" up \
  --listen "127.0.0.1:$port" --from "$dir/spin.toml" --cache-dir "$dir/cache" 2>/dev/null >/dev/null &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/hello" >/dev/null && break; sleep 0.2; done
base="http://127.0.0.1:$port"
wrk -t2 -c64 -d3s "$base/hello" >/dev/null   # warm-up
echo "== hello, 64 connections, ${secs}s"
wrk -t2 -c64 -d"${secs}s" --latency "$base/hello"
echo "== relay -> hello (one chaining hop), 64 connections, ${secs}s"
wrk -t2 -c64 -d"${secs}s" --latency "$base/relay"
echo "== RSS with 200 connections in flight"
idle=$(ps -o rss= -p "$pid")
wrk -t2 -c200 -d"${secs}s" "$base/hello" > "$dir/wrk200.txt" &
wrkpid=$!
peak=0
while kill -0 "$wrkpid" 2>/dev/null; do
  rss=$(ps -o rss= -p "$pid" || echo 0)
  [ "$rss" -gt "$peak" ] && peak=$rss
  sleep 0.1
done
grep -E "Requests/sec|Non-2xx" "$dir/wrk200.txt" || true
echo "host RSS: idle $((idle / 1024)) MiB, peak under 200 connections $((peak / 1024)) MiB"
