#!/usr/bin/env bash
# What the host's pooled-connection reset costs the next request, measured in Postgres alone
# (pgbench on loopback, one client): the statements of a tasks list request (BEGIN READ ONLY,
# bind and verify the tenant context, the RLS list of 50 tasks, COMMIT), followed by
#   none           no reset (the floor)
#   DISCARD ALL    what the host ran before
#   RESET_SESSION  what it runs now (host/src/pg.rs: DISCARD ALL without DISCARD PLANS)
# Starts its own Postgres on a free loopback port with the demo data. Figures go to BENCHMARKS.md.
#
# Usage: ./scripts/bench-pg-reset.sh [seconds-per-run]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
./scripts/setup.sh
cargo build --quiet --release -p tenantgate --bin tenantgate
bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
chown postgres "$dir" 2>/dev/null || true
trap 'runuser -u postgres -- "$bin/pg_ctl" -D "$dir/pg" -m fast -w stop >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
runuser -u postgres -- "$bin/initdb" -D "$dir/pg" -A trust -U postgres -E UTF8 --locale=C >/dev/null
runuser -u postgres -- "$bin/pg_ctl" -D "$dir/pg" -w -l "$dir/pg.log" \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
admin="postgres://postgres@127.0.0.1:$port/postgres"
app="postgres://tenantgate_app@127.0.0.1:$port/postgres"
./scripts/demo/seed.sh "$admin" ./target/release/tenantgate "$bin/psql"
key=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
"$bin/psql" "$admin" -X -q -c "INSERT INTO tenantgate_private.context_keys (kid, key) VALUES ('k1', '\\x$key')" >/dev/null
"$bin/psql" "$admin" -X -q -c "INSERT INTO app.tasks (tenant_id, project_id, title)
  SELECT 'a0000000-0000-4000-8000-0000000000ac', 'a1000000-0000-4000-8000-000000000001', 'bench task ' || g
  FROM generate_series(1, 50) g" >/dev/null
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
# The reset exactly as the host sends it.
reset=$(python3 - <<'PY'
import re
src = open("host/src/pg.rs").read()
m = re.search(r'pub const RESET_SESSION: &str = "((?:[^"\\]|\\.)*)";', src, re.S)
print(re.sub(r'\\\n\s*', '', m.group(1)))
PY
)
request() {
  cat <<SQL
BEGIN READ ONLY;
SELECT tenantgate.current_tenant_id()::text AS tid FROM (SELECT set_config('search_path', 'app', true), set_config('tenantgate.context', '$token', true) OFFSET 0) AS bind;
SELECT id::text, project_id::text, title, description, done, created_at FROM tasks ORDER BY created_at, id LIMIT 50;
COMMIT;
SQL
}
request > "$dir/none.sql"
{ request; echo "DISCARD ALL;"; } > "$dir/discard_all.sql"
{ request; echo "$reset;"; } > "$dir/reset_session.sql"
# -r reports each statement's latency: the request's own four statements are what a reset
# left behind makes slower (the reset itself runs after the response is sent).
for round in 1 2; do
  for variant in none discard_all reset_session; do
    "$bin/pgbench" -n -M simple -c 1 -r -T "$secs" -f "$dir/$variant.sql" "$app" > "$dir/out" 2>&1
    python3 - "$variant" "$round" "$dir/out" <<'PY'
import re, sys
variant, rnd, path = sys.argv[1:]
text = open(path).read()
lat = [float(m.group(1)) for m in re.finditer(r"^\s+([\d.]+)\s+\d+\s+(?:BEGIN|SELECT|COMMIT|DISCARD|CLOSE|SET|RESET|DEALLOCATE|UNLISTEN)", text, re.M)]
tps = re.search(r"tps = ([\d.]+)", text).group(1)
print(f"== {variant:<14} round {rnd}: request statements {sum(lat[:4]):.3f} ms "
      f"(verify {lat[1]:.3f}, list {lat[2]:.3f}), reset {sum(lat[4:]):.3f} ms, whole loop {1000/float(tps):.3f} ms")
PY
  done
done
