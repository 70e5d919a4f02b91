#!/usr/bin/env bash
# Whole requests on the release host, gateway path vs direct path, in one run:
#   limits: hello through gateways with the rate-limit stage on (key-value store; Redis)
#           and off, and a 429 the gateway answers itself
#   hello:  Host acme.localhost -> gateway -> hello      vs  hello served directly
#   tasks:  Host acme.localhost -> gateway -> tasks (RLS list)  vs  tasks directly with a
#           context signed here (the same query, the same database)
# Starts its own Postgres on a free loopback port (applies the migrations, seeds the demo
# tenants) and two hosts; prints wrk's latency distributions. Figures go to BENCHMARKS.md.
#
# Usage: ./scripts/bench-gateway.sh [seconds-per-run] [connections]   (default 10, 16)
# TENANTGATE_BIN=path runs that host binary instead of the release build (to compare two
# builds of the host on the same wasm and the same database); TENANTGATE_WASM=dir takes the
# components from dir instead, and TENANTGATE_MIGRATIONS=dir the migrations (an older
# checkout's, for a before/after). BENCH_ONLY_LIMITS=1 runs only the rate-limit runs;
# BENCH_SKIP_LIMITS=1 skips them. BENCH_ONLY_TASKS=1 runs only the two tasks lists, each
# followed by its cost per request: CPU time of the host process serving it, of Postgres (all
# its processes) and of wrk, divided by the requests wrk completed (robust on a shared machine
# where throughput is not); with BENCH_CLASSIC=1 it then alternates the gateway run between the
# classic forgeable policy (the tenant read from the setting unverified) and the real one;
# BENCH_PERF=file also records `perf record -g` of the gateway's host
# during the gateway run (guest symbols through TENANTGATE_PERFMAP=1).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
conns="${2:-16}"
./scripts/setup.sh
if ! command -v wrk >/dev/null; then
  apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
fi
cargo build --quiet --release -p tenantgate --bin tenantgate
cargo build --quiet --release --target wasm32-wasip2 -p gateway -p tasks -p fixture-hello
wasm="${TENANTGATE_WASM:-$PWD/target/wasm32-wasip2/release}"
bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

dir=$(mktemp -d)
chown postgres "$dir" 2>/dev/null || true
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  runuser -u postgres -- "$bin/pg_ctl" -D "$dir/pg" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

pgport=$(free_port)
runuser -u postgres -- "$bin/initdb" -D "$dir/pg" -A trust -U postgres -E UTF8 --locale=C >/dev/null
runuser -u postgres -- "$bin/pg_ctl" -D "$dir/pg" -w -l "$dir/pg.log" \
  -o "-p $pgport -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
admin="postgres://postgres@127.0.0.1:$pgport/postgres"
app="postgres://tenantgate_app@127.0.0.1:$pgport/postgres"
directory="postgres://tenantgate_directory@127.0.0.1:$pgport/postgres"
tg="${TENANTGATE_BIN:-./target/release/tenantgate}"
TENANTGATE_MIGRATIONS="${TENANTGATE_MIGRATIONS:-migrations}" ./scripts/demo/seed.sh "$admin" "$tg" "$bin/psql"
key=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
session_key=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
"$bin/psql" "$admin" -X -q -c "INSERT INTO tenantgate_private.context_keys (kid, key) VALUES ('k1', '\\x$key')" >/dev/null
# Limits that every request spends but none reaches: acme's anonymous and per-client
# buckets, or for a session its tenant-wide and per-user ones (two compare-and-swaps, or one
# Redis EVAL, per request either way); globex refuses all but one request (the 429 runs).
"$bin/psql" "$admin" -X -q -c "INSERT INTO tenantgate.tenant_limits (tenant_id, limits) VALUES
  ('a0000000-0000-4000-8000-0000000000ac', '{\"anonymous\": {\"requests\": 1000000000, \"per_seconds\": 1, \"burst\": 1000000}, \"client\": {\"requests\": 1000000000, \"per_seconds\": 1, \"burst\": 1000000}, \"tenant\": {\"requests\": 1000000000, \"per_seconds\": 1, \"burst\": 1000000}, \"user\": {\"requests\": 1000000000, \"per_seconds\": 1, \"burst\": 1000000}}'),
  ('b0000000-0000-4000-8000-0000000000b1', '{\"anonymous\": {\"requests\": 1, \"per_seconds\": 86400, \"burst\": 1}}')
  ON CONFLICT (tenant_id) DO UPDATE SET limits = EXCLUDED.limits" >/dev/null
redisport=$(free_port)
redis-server --port "$redisport" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
pids+=($!)
# 50 more acme tasks, so the list is a full page.
"$bin/psql" "$admin" -X -q -c "INSERT INTO app.tasks (tenant_id, project_id, title)
  SELECT 'a0000000-0000-4000-8000-0000000000ac', 'a1000000-0000-4000-8000-000000000001', 'bench task ' || g
  FROM generate_series(1, 50) g" >/dev/null

# The context the direct path sends: what the gateway would sign for an anonymous reader.
token=$(python3 - "$key" <<'PY'
import hmac, hashlib, sys, time
key = bytes.fromhex(sys.argv[1])
# v2~kid~exp~tid~uid~rid~plc~db~sch~slug~roles~perms~ro~<hex HMAC-SHA256 of all before it>
fields = [str(int(time.time()) + 3600), "a0000000-0000-4000-8000-0000000000ac", "", "bench", "shared", "", "",
          "acme", "", "tasks.read", ""]
head = "v2~k1~" + "~".join(fields) + "~"
print(head + hmac.new(key, head.encode(), hashlib.sha256).hexdigest())
PY
)

# A live session of acme's demo admin, and the cookie the gateway would have set for it
# (s1.<sid>.<tid>.<exp>.<base64url HMAC-SHA256 under the session key>).
sid=$(python3 -c 'import uuid; print(uuid.uuid4())')
"$bin/psql" "$admin" -X -q -c "INSERT INTO tenantgate.sessions (tenant_id, id, user_id, issuer, expires_at)
  VALUES ('a0000000-0000-4000-8000-0000000000ac', '$sid', 'a5000000-0000-4000-8000-000000000001', 'bench', now() + interval '1 hour')" >/dev/null
session_cookie=$(python3 - "$session_key" "$sid" <<'PY'
import base64, hmac, hashlib, sys, time, uuid
key = bytes.fromhex(sys.argv[1])
body = "s1.%s.%s.%d" % (uuid.UUID(sys.argv[2]).hex, uuid.UUID("a0000000-0000-4000-8000-0000000000ac").hex,
                        int(time.time()) + 3600)
mac = base64.urlsafe_b64encode(hmac.new(key, body.encode(), hashlib.sha256).digest()).rstrip(b"=").decode()
print(body + "." + mac)
PY
)

cat > "$dir/gateway.toml" <<TOML
spin_manifest_version = 2
[application]
name = "bench-gateway"
[[trigger.http]]
route = "/..."
component = "gateway"
[[trigger.http]]
route = { private = true }
component = "tasks"
[[trigger.http]]
route = { private = true }
component = "hello"
[component.gateway]
source = "$wasm/gateway.wasm"
allowed_outbound_hosts = ["http://tasks.spin.internal", "http://hello.spin.internal", "postgres://127.0.0.1:$pgport"]
key_value_stores = ["default"]
[component.gateway.variables]
directory_database_url = "$directory"
context_key = "$key"
session_key = "$session_key"
routes = "/api/tasks=tasks,/api/projects=tasks,/hello=hello"
anonymous_permissions = "tasks.read"
[component.tasks]
source = "$wasm/tasks.wasm"
allowed_outbound_hosts = ["postgres://127.0.0.1:$pgport"]
[component.tasks.variables]
database_url = "$app"
[component.hello]
source = "$wasm/fixture_hello.wasm"
TOML
cat > "$dir/direct.toml" <<TOML
spin_manifest_version = 2
[application]
name = "bench-direct"
[[trigger.http]]
route = "/api/..."
component = "tasks"
[[trigger.http]]
route = "/hello"
component = "hello"
[component.tasks]
source = "$wasm/tasks.wasm"
allowed_outbound_hosts = ["postgres://127.0.0.1:$pgport"]
[component.tasks.variables]
database_url = "$app"
[component.hello]
source = "$wasm/fixture_hello.wasm"
TOML
printf '[key_value_store.default]\ntype = "spin"\n' > "$dir/rc.toml"
# The same gateway with the stage off, and with Redis as its store.
sed -e 's/^name = "bench-gateway"/name = "bench-gateway-off"/' \
    -e 's/^anonymous_permissions = "tasks.read"/anonymous_permissions = "tasks.read"\nrate_limits = "off"/' \
    "$dir/gateway.toml" > "$dir/gateway-off.toml"
sed -e 's/^name = "bench-gateway"/name = "bench-gateway-redis"/' \
    -e "s#^anonymous_permissions = \"tasks.read\"#anonymous_permissions = \"tasks.read\"\nrate_limit_store = \"redis\"\nredis_url = \"redis://127.0.0.1:$redisport\"#" \
    -e "s#\"postgres://127.0.0.1:$pgport\"\]#\"postgres://127.0.0.1:$pgport\", \"redis://127.0.0.1:$redisport\"]#" \
    "$dir/gateway.toml" > "$dir/gateway-redis.toml"

gw=$(free_port); direct=$(free_port); gwoff=$(free_port); gwredis=$(free_port)
# BENCH_PG_STATEMENTS=any: the gateway and direct hosts send every statement as Spin does (no
# statement filter, so no statement cache).
pgs=(${BENCH_PG_STATEMENTS:+--pg-statements "$BENCH_PG_STATEMENTS"})
TENANTGATE_PERFMAP="${BENCH_PERF:+1}" "$tg" up "${pgs[@]}" --listen "127.0.0.1:$gw" --from "$dir/gateway.toml" \
  --runtime-config-file "$dir/rc.toml" --cache-dir "$dir/cache" >/dev/null 2>&1 &
pids+=($!)
gw_pid=$!
"$tg" up --listen "127.0.0.1:$gwoff" --from "$dir/gateway-off.toml" \
  --runtime-config-file "$dir/rc.toml" --cache-dir "$dir/cache" >/dev/null 2>&1 &
pids+=($!)
gwoff_pid=$!
"$tg" up --listen "127.0.0.1:$gwredis" --from "$dir/gateway-redis.toml" \
  --runtime-config-file "$dir/rc.toml" --cache-dir "$dir/cache" >/dev/null 2>&1 &
pids+=($!)
"$tg" up "${pgs[@]}" --listen "127.0.0.1:$direct" --from "$dir/direct.toml" \
  --cache-dir "$dir/cache" >/dev/null 2>&1 &
pids+=($!)
direct_pid=$!
host="Host: acme.localhost:3000"
for _ in $(seq 150); do
  curl -sf -H "$host" "http://127.0.0.1:$gw/hello" >/dev/null && curl -sf "http://127.0.0.1:$direct/hello" >/dev/null \
    && curl -sf -H "$host" "http://127.0.0.1:$gwoff/hello" >/dev/null && curl -sf -H "$host" "http://127.0.0.1:$gwredis/hello" >/dev/null && break
  sleep 0.2
done
curl -sf -H "$host" "http://127.0.0.1:$gw/api/tasks?limit=50" | python3 -c 'import json,sys; assert len(json.load(sys.stdin)["items"]) == 50'
curl -sf -H "x-tenant-context: $token" "http://127.0.0.1:$direct/api/tasks?limit=50" | python3 -c 'import json,sys; assert len(json.load(sys.stdin)["items"]) == 50'

run() { # name, then wrk arguments
  local name="$1"; shift
  local threads=$(( conns < 2 ? 1 : 2 ))
  wrk -t"$threads" -c"$conns" -d2s "$@" >/dev/null   # warm-up
  echo "== $name ($conns connections, ${secs}s)"
  wrk -t"$threads" -c"$conns" -d"${secs}s" --latency "$@" | grep -E "Latency |50%|90%|99%|Requests/sec|Non-2xx"
}
# CPU time (clock ticks) of a process; of Postgres: the postmaster, its children and the
# children it has reaped.
ticks() { local s; s=$(cat "/proc/$1/stat"); s=${s##*) }; set -- $s; echo $(( ${12} + ${13} )); }
pg_ticks() {
  local pm t s; pm=$(head -1 "$dir/pg/postmaster.pid")
  s=$(cat "/proc/$pm/stat"); s=${s##*) }; set -- $s; t=$(( ${12} + ${13} + ${14} + ${15} ))
  for c in $(pgrep -P "$pm"); do t=$(( t + $(ticks "$c" 2>/dev/null || echo 0) )); done
  echo "$t"
}
# A run with its cost per request: name, host pid, then wrk arguments.
costed() {
  local name="$1" hpid="$2"; shift 2
  local threads=$(( conns < 2 ? 1 : 2 )) hz out n h0 p0 w0 h1 p1 w1 wpid perf_pid=""
  hz=$(getconf CLK_TCK)
  wrk -t"$threads" -c"$conns" -d2s "$@" >/dev/null   # warm-up
  if [ -n "${BENCH_PERF:-}" ] && [ "$hpid" = "$gw_pid" ]; then
    perf record -g -o "$BENCH_PERF" -p "$hpid" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  h0=$(ticks "$hpid"); p0=$(pg_ticks)
  wrk -t"$threads" -c"$conns" -d"${secs}s" --latency "$@" > "$dir/wrk.out" &
  wpid=$!
  sleep 0.2; w0=$(ticks "$wpid" 2>/dev/null || echo 0)
  # wrk's own CPU: read just before it exits (its last second is idle-free load, as the rest).
  sleep $(( secs - 1 )); w1=$(ticks "$wpid" 2>/dev/null || echo "$w0")
  wait "$wpid"
  h1=$(ticks "$hpid"); p1=$(pg_ticks)
  [ -n "$perf_pid" ] && { kill -INT "$perf_pid"; wait "$perf_pid" || true; }
  echo "== $name ($conns connections, ${secs}s)"
  grep -E "Latency |50%|90%|99%|Requests/sec|Non-2xx" "$dir/wrk.out"
  n=$(grep -oE '[0-9]+ requests in' "$dir/wrk.out" | cut -d' ' -f1)
  python3 - "$n" "$hz" "$((h1 - h0))" "$((p1 - p0))" "$((w1 - w0))" "$secs" <<'PY'
import sys
n, hz, host, pg, wrk, secs = (int(x) for x in sys.argv[1:])
us = lambda t: t * 1e6 / hz / n
# wrk was sampled over secs - 1.2 s of the run: scale to the whole run.
w = us(wrk) * secs / max(secs - 1.2, 0.1)
print(f"   CPU per request: host {us(host):.0f} us, Postgres {us(pg):.0f} us, wrk ~{w:.0f} us; "
      f"host + Postgres {us(host) + us(pg):.0f} us ({n} requests)")
PY
}
if [ -n "${BENCH_ONLY_TASKS:-}" ]; then
  costed "tasks list (50, RLS), direct" "$direct_pid" -H "x-tenant-context: $token" "http://127.0.0.1:$direct/api/tasks?limit=50"
  costed "tasks list (50, RLS), through the gateway" "$gw_pid" -H "$host" "http://127.0.0.1:$gw/api/tasks?limit=50"
  if [ -n "${BENCH_CLASSIC:-}" ]; then
    # The classic, forgeable policy as the reference: tenantgate.current_tenant_id() (which the
    # policies and tenant-db's bind call) replaced by an unverified read of the tenant field
    # (a SQL function the planner inlines, as `current_setting('app.tenant_id')::uuid`), then
    # the real one put back; alternated, two rounds.
    verified=$("$bin/psql" "$admin" -X -At -c "SELECT pg_get_functiondef('tenantgate.current_tenant_id()'::regprocedure)")
    classic="CREATE OR REPLACE FUNCTION tenantgate.current_tenant_id() RETURNS uuid LANGUAGE sql STABLE
      AS \$\$ SELECT nullif(pg_catalog.split_part(pg_catalog.current_setting('tenantgate.context', true), '~', 4), '')::uuid \$\$"
    for round in 1 2; do
      "$bin/psql" "$admin" -X -q -v ON_ERROR_STOP=1 -c "$classic" >/dev/null
      costed "tasks list through the gateway, classic policy ($round)" "$gw_pid" -H "$host" "http://127.0.0.1:$gw/api/tasks?limit=50"
      "$bin/psql" "$admin" -X -q -v ON_ERROR_STOP=1 -c "$verified" >/dev/null
      costed "tasks list through the gateway, unforgeable policy ($round)" "$gw_pid" -H "$host" "http://127.0.0.1:$gw/api/tasks?limit=50"
    done
  fi
  exit 0
fi
if [ -n "${BENCH_ONLY_SESSIONS:-}" ]; then
  # How often the gateways asked the directory for the session (it should be once per
  # state_ttl per instance, not per request): counted by Postgres.
  "$bin/psql" "$admin" -X -q -c "ALTER SYSTEM SET track_functions = 'all'" -c "SELECT pg_reload_conf()" >/dev/null
  # The session must be accepted (200, not a 401/redirect) for the figure to mean anything.
  curl -sf -H "$host" -H "Cookie: tg_session=$session_cookie" "http://127.0.0.1:$gw/hello" >/dev/null
  # With the rate-limit stage on, a signed-in request spends other buckets than an anonymous
  # one (tenant and user, and the tenant's monthly quota, instead of anonymous and client);
  # with it off, the difference is the session itself.
  for round in 1 2; do
    costed "sessions ($round): hello through the gateway, anonymous" "$gw_pid" -H "$host" "http://127.0.0.1:$gw/hello"
    costed "sessions ($round): hello through the gateway, valid session cookie" "$gw_pid" -H "$host" \
      -H "Cookie: tg_session=$session_cookie" "http://127.0.0.1:$gw/hello"
    costed "sessions ($round): rate limits off, anonymous" "$gwoff_pid" -H "$host" "http://127.0.0.1:$gwoff/hello"
    costed "sessions ($round): rate limits off, valid session cookie" "$gwoff_pid" -H "$host" \
      -H "Cookie: tg_session=$session_cookie" "http://127.0.0.1:$gwoff/hello"
  done
  "$bin/psql" "$admin" -X -At -c "SELECT 'session_state calls: ' || coalesce(sum(calls), 0) FROM pg_stat_user_functions WHERE funcname = 'session_state'"
  exit 0
fi
if [ -z "${BENCH_ONLY_LIMITS:-}" ]; then
  run "hello, direct" "http://127.0.0.1:$direct/hello"
  run "hello, through the gateway" -H "$host" "http://127.0.0.1:$gw/hello"
  # The gateway's own share: refused at host normalisation (no directory, no backend), and a
  # resolved tenant on a path no backend serves (the cache look-up, no forwarding).
  run "gateway alone, invalid host (400)" -H "Host: bad..host" "http://127.0.0.1:$gw/hello"
  run "gateway alone, resolved tenant, unknown path (404)" -H "$host" "http://127.0.0.1:$gw/nothing"
  run "tasks list (50, RLS), direct" -H "x-tenant-context: $token" "http://127.0.0.1:$direct/api/tasks?limit=50"
  run "tasks list (50, RLS), through the gateway" -H "$host" "http://127.0.0.1:$gw/api/tasks?limit=50"
fi
if [ -z "${BENCH_SKIP_LIMITS:-}" ]; then
  curl -sfi -H "$host" "http://127.0.0.1:$gwredis/hello" | grep -qi '^ratelimit:'
  run "limits: hello through the gateway, rate limits off" -H "$host" "http://127.0.0.1:$gwoff/hello"
  run "limits: hello through the gateway, rate limits on (key-value store)" -H "$host" "http://127.0.0.1:$gw/hello"
  run "limits: hello through the gateway, rate limits on (Redis)" -H "$host" "http://127.0.0.1:$gwredis/hello"
  run "limits: 429 answered by the gateway (key-value store)" -H "Host: globex.localhost:3000" "http://127.0.0.1:$gw/hello"
  # Noisy neighbour: globex far past its limit (every answer a 429) on 4 connections while
  # acme's hello is measured on the same gateway.
  wrk -t1 -c4 -d"$((secs + 4))s" -H "Host: globex.localhost:3000" "http://127.0.0.1:$gw/hello" >/dev/null &
  flood=$!
  run "limits: hello through the gateway while another tenant is flooded (429s)" -H "$host" "http://127.0.0.1:$gw/hello"
  wait "$flood" || true
fi
