#!/usr/bin/env bash
# What the tenant check costs Postgres per statement, in backend CPU time, for each form it has had:
#   explicit       superuser, `WHERE tenant_id = <uuid> AND id = <uuid>`, no RLS (the floor)
#   0009           tenant_id = (SELECT tenantgate.current_tenant_id()), the function reading tenantgate.context_v2
#   0012           the same policy, the function reading 0012's tenantgate.context_tenant (the tenant id alone),
#                  recreated here as tenantgate.bench_context_0012 (0014 replaced the view)
#   0014           the function reading today's tenantgate.context_tenant: 0012's check plus the exact version and
#                  field count, and no negative substring length (issue 22 item 5)
# (Earlier runs also measured 0009's context_v2 and the policy naming the view directly: BENCHMARKS.md.)
# Each variant runs a DO loop as the application role (superuser for `explicit`): per iteration, bind the
# context transaction-locally, one point get of a task, COMMIT, so every get is the first statement of its
# transaction, as in a request. "prepared": the get is a plpgsql statement, whose plan is kept as the host's
# statement cache keeps it; "unprepared": the same text through EXECUTE, parsed and planned on every call, as
# Spin (and `--pg-statements any`) sends statements. The backend's own CPU time (/proc/<pid>/schedstat) is read
# before and after, so load from other processes moves the figures much less than wall-clock time would. Rounds
# interleave the variants. Starts its own Postgres on a free loopback port with the demo data.
#
# Usage: ./scripts/bench-context-cpu.sh [iterations] [rounds]   (default 5000, 3)
# TENANTGATE_BIN=path uses that tenantgate binary for the migrations (default: the debug build).
set -euo pipefail
cd "$(dirname "$0")/.."
iters="${1:-5000}"
rounds="${2:-3}"
./scripts/setup.sh >/dev/null 2>&1
tg="${TENANTGATE_BIN:-}"
if [ -z "$tg" ]; then
  cargo build --quiet -p tenantgate --bin tenantgate
  tg=./target/debug/tenantgate
fi
bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
chown postgres "$dir" 2>/dev/null || true
trap 'runuser -u postgres -- "$bin/pg_ctl" -D "$dir/pg" -m fast -w stop >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
runuser -u postgres -- "$bin/initdb" -D "$dir/pg" -A trust -U postgres -E UTF8 --locale=C >/dev/null
runuser -u postgres -- "$bin/pg_ctl" -D "$dir/pg" -w -l "$dir/pg.log" \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
admin="postgres://postgres@127.0.0.1:$port/postgres"
./scripts/demo/seed.sh "$admin" "$tg" "$bin/psql"
key=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
psql() { "$bin/psql" "$@"; }
psql "$admin" -X -q -c "INSERT INTO tenantgate_private.context_keys (kid, key) VALUES ('k1', '\\x$key')" >/dev/null
tid=a0000000-0000-4000-8000-0000000000ac
task=$(psql "$admin" -X -q -At -c "SELECT id FROM app.tasks WHERE tenant_id = '$tid' LIMIT 1")
token=$(python3 - "$key" "$tid" <<'PY'
import hmac, hashlib, sys, time
key = bytes.fromhex(sys.argv[1])
fields = [str(int(time.time()) + 36000), sys.argv[2], "", "bench", "shared", "", "", "acme", "", "tasks.read", ""]
head = "v2~k1~" + "~".join(fields) + "~"
print(head + hmac.new(key, head.encode(), hashlib.sha256).hexdigest())
PY
)

policy() { # the USING / WITH CHECK expression, and the body current_tenant_id() reads
  psql "$admin" -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
ALTER POLICY tenant_isolation ON app.tasks USING (tenant_id = $1) WITH CHECK (tenant_id = $1);
SET ROLE tenantgate_owner;
CREATE OR REPLACE FUNCTION tenantgate.current_tenant_id() RETURNS uuid LANGUAGE plpgsql STABLE
AS \$\$ BEGIN RETURN (SELECT c.tenant_id FROM tenantgate.$2 AS c); END \$\$;
SQL
}

# loop <user> <prepared|unprepared> <statement>: backend CPU µs per iteration
loop() {
  local user="$1" how="$2" stmt="$3" run
  if [ "$how" = prepared ]; then run="PERFORM ($stmt);"; else run="EXECUTE \$q\$$stmt\$q\$;"; fi
  local body="FOR i IN 1..@ITERS@ LOOP PERFORM set_config('search_path', 'app', true); \
PERFORM set_config('tenantgate.context', '$token', true); $run COMMIT; END LOOP;"
  psql "postgres://$user@127.0.0.1:$port/postgres" -X -q -At -v ON_ERROR_STOP=1 <<SQL | tail -1
DO \$\$ BEGIN ${body/@ITERS@/200} END \$\$;
SELECT pg_backend_pid() AS pid \gset
\\set before \`cut -d' ' -f1 /proc/:pid/schedstat\`
DO \$\$ BEGIN ${body/@ITERS@/$iters} END \$\$;
\\set after \`cut -d' ' -f1 /proc/:pid/schedstat\`
SELECT round((:after - :before) / 1000.0 / $iters, 1);
SQL
}

# 0012's view, exactly as that migration made it, for the before/after comparison.
psql "$admin" -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SET ROLE tenantgate_owner;
CREATE VIEW tenantgate.bench_context_0012 WITH (security_barrier) AS
SELECT pg_catalog.split_part(c.t, '~', 4)::uuid AS tenant_id
  FROM (SELECT pg_catalog.current_setting('tenantgate.context', true) AS t) AS c
  JOIN tenantgate_private.context_keys AS k ON k.kid = pg_catalog.split_part(c.t, '~', 2)
 WHERE (k.retired_at IS NULL OR k.retired_at > pg_catalog.statement_timestamp())
   AND CASE WHEN pg_catalog.split_part(c.t, '~', 14)
                 = pg_catalog.encode(pg_catalog.sha256(k.opad || pg_catalog.sha256(
                       k.ipad || pg_catalog."substring"(pg_catalog.textsend(c.t), 1, pg_catalog.octet_length(c.t) - 64))),
                                     'hex')
            THEN pg_catalog.split_part(c.t, '~', 3)::bigint > pg_catalog.date_part('epoch', pg_catalog.statement_timestamp())
            ELSE false
       END;
GRANT SELECT ON tenantgate.bench_context_0012 TO tenantgate_app;
SQL

get_rls="SELECT title FROM app.tasks WHERE id = '$task'"
get_explicit="SELECT title FROM app.tasks WHERE tenant_id = '$tid' AND id = '$task'"
fn="(SELECT tenantgate.current_tenant_id())"
echo "| round, statement | explicit | 0012 | 0014 | 0012 − explicit | 0014 − explicit | 0014 − 0012 |"
echo "|---|---|---|---|---|---|---|"
for r in $(seq "$rounds"); do
  for how in prepared unprepared; do
    e=$(loop postgres "$how" "$get_explicit")
    policy "$fn" bench_context_0012; a=$(loop tenantgate_app "$how" "$get_rls")
    policy "$fn" context_tenant;     b=$(loop tenantgate_app "$how" "$get_rls")
    echo "| $r, $how | $e | $a | $b | $(python3 -c "print(round($a - $e, 1))") | $(python3 -c "print(round($b - $e, 1))") | $(python3 -c "print(round($b - $a, 1))") |"
  done
done
