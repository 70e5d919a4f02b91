#!/usr/bin/env bash
# Conformance checks of the app on a real `spin` binary (or, as a self-check, on the
# project's own host): every surface a user meets, against the demo database with the same
# variables as scripts/run.sh (scripts/demo/env.sh and scripts/demo/idps.sh).
#
#   ./scripts/spin-conformance.sh                 # uses `spin` from PATH
#   SPIN=/path/to/spin ./scripts/spin-conformance.sh
#   SPIN=tenantgate ./scripts/spin-conformance.sh # the project's host (target/release/tenantgate),
#                                                 # as close to Spin as it goes: --spin-compat 4.0,
#                                                 # --pg-statements any, --pg-reset spin (CI runs this one)
#
# With no spin binary it says so and exits 0 (skipped). Otherwise it builds the components
# (`spin build`, or scripts/build-wasm.sh for the project's host), prepares the demo
# database ($DATABASE_URL, or the project's local PostgreSQL: scripts/demo/env.sh), starts
# the demo IdPs (scripts/demo/idps.sh: OIDC for acme, SAML for globex), the app twice
# (`spin up --from spin.toml`: once with the key-value rate-limit store, once with Redis)
# and a Redis server, all on free loopback ports, and checks:
#   - the README's curls: acme's and globex's lists, another tenant's task id (404), an
#     unknown tenant (404 within 2 s: Spin 4.0.0-4.0.2 hangs there, Spin #3671), a missing
#     permission (403), the apex without a token (401); upper-case and trailing-dot hosts;
#     forged x-tenant-context / spin-* headers; the JSON error shape and a 413;
#   - a full OIDC login on acme (alice) and a SAML login on globex (bob), driven through the
#     IdPs' own forms by scripts/conformance/browser.py, and the session cookie accepted by
#     /api/org/me (refused without it, and on another tenant's host);
#   - the /admin pages: their HTML, every asset and every JSON API they call answer 200 for
#     an owner; the /platform console's HTML and assets;
#   - switching organisations (alice: POST /auth/switch to=globex, a session on globex);
#   - the organisation API: carol signs in, the owner removes her (her session is refused
#     within 6 s), invites her back, she accepts through the invitation login, the owner
#     makes her an admin (her session sees it) and a member again, and the audit log shows
#     it all;
#   - the platform API with break-glass: a platform token (`tenantgate platform token`) is
#     refused on acme's host, a grant lets it read acme's members there, the revocation
#     refuses it again, and acme's audit log shows the grant, the access and the revocation;
#   - usage flushed and visible in `tenantgate usage globex`;
#   - logout: the session is refused afterwards;
#   - suspension: `tenantgate tenant suspend acme` gives 403 within 6 s, and reactivation
#     serves it again;
#   - the rate-limit stage with the key-value store and with Redis: a burst gives 429
#     rate_limited with Retry-After, RateLimit and RateLimit-Policy (and another tenant keeps
#     answering); with Redis the buckets are Redis keys and Redis down is a 503.
# Each check prints `ok <name>` or `FAIL <name>: <why>`, then a summary; the script exits
# non-zero when any check fails. What it changes in the demo database is put back (carol's
# membership, the break-glass grant, acme's status; on exit whatever happened) or is
# harmless to re-runs (sessions, audit rows, usage counts, a revoked invitation). It points
# the demo tenants' SSO at its own IdPs while it runs, as scripts/run.sh does at every start,
# and on exit back at a ./scripts/run.sh's IdPs when they answer on idps.sh's default ports.
# Environment: SPIN, TENANTGATE (the CLI used for the migrations, the suspension, usage and
# the platform token; default target/release/tenantgate, built when missing), DATABASE_URL,
# SPIN_CONFORMANCE_PORT (the first app's port; default: a free port).
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[conformance] %s\n' "$*" >&2; }
STARTED=$SECONDS

# --- which runtime -----------------------------------------------------------------------
SPIN="${SPIN:-$(command -v spin || true)}"
if [ -z "$SPIN" ]; then
  log "SKIPPED: no spin binary (put spin on PATH, or set SPIN=/path/to/spin; SPIN=tenantgate checks the project's own host)"
  exit 0
fi
TENANTGATE="${TENANTGATE:-./target/release/tenantgate}"
build_cli() {
  [ -x "$TENANTGATE" ] && return
  log "building the tenantgate CLI ($TENANTGATE)"
  cargo build --release -p tenantgate --bin tenantgate
}
if [ "$SPIN" = "tenantgate" ]; then build_cli; SPIN="$TENANTGATE"; fi
VERSION="$("$SPIN" --version 2>/dev/null | head -n 1 || true)"
case "$VERSION" in
  tenantgate*) KIND=tenantgate ;;
  "spin "[0-9]*) KIND=spin ;;
  *) log "SKIPPED: $SPIN is not Spin the WebAssembly framework (its --version says: ${VERSION:-nothing})"; exit 0 ;;
esac
build_cli
command -v curl >/dev/null || { log "curl is required"; exit 2; }
command -v python3 >/dev/null || { log "python3 is required"; exit 2; }
log "runtime: $KIND ($VERSION)"

# --- build, database, IdPs, Redis, the app twice -------------------------------------------
if [ "$KIND" = spin ]; then "$SPIN" build; else ./scripts/build-wasm.sh; fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT="${SPIN_CONFORMANCE_PORT:-$(free_port)}"
PORT_REDIS_APP="$(free_port)"
REDIS_PORT="$(free_port)"
DEMO_OIDC_PORT="$(free_port)"
DEMO_SAML_PORT="$(free_port)"
WORK="$(mktemp -d)"
APP_PID="" APP_REDIS_PID="" REDIS_PID="" DEMO_IDP_PIDS="" GRANT_ID="" PLATFORM_TOKEN=""
ACME_ID=a0000000-0000-4000-8000-0000000000ac
CAROL_ID=a5000000-0000-4000-8000-000000000002
cleanup() {
  set +e
  if [ -n "${ADMIN_URL:-}" ]; then
    "$TENANTGATE" tenant reactivate acme --database-url "$ADMIN_URL" >/dev/null 2>&1
    # carol back as acme's member, whatever step a failed run stopped at.
    "$PSQL" "$ADMIN_URL" -X -q -c "INSERT INTO tenantgate.memberships (tenant_id, user_id, role_name)
      VALUES ('$ACME_ID', '$CAROL_ID', 'member') ON CONFLICT (tenant_id, user_id) DO UPDATE SET role_name = 'member'" >/dev/null 2>&1
    # A ./scripts/run.sh serving beside us (its IdPs on idps.sh's default ports): the demo
    # tenants' SSO back on its IdPs, so its logins keep working.
    if [ -n "${DEMO_OIDC_SECRET:-}" ] && curl -fsS -o /dev/null --max-time 2 http://127.0.0.1:54330/.well-known/openid-configuration 2>/dev/null; then
      "$TENANTGATE" sso set acme --database-url "$ADMIN_URL" --issuer http://127.0.0.1:54330 --client-id acme-demo \
        --client-secret-env DEMO_OIDC_SECRET >/dev/null 2>&1
    fi
    if curl -fsS -o /dev/null --max-time 2 http://127.0.0.1:54331/metadata 2>/dev/null; then
      "$TENANTGATE" sso set globex --database-url "$ADMIN_URL" --metadata-url http://127.0.0.1:54331/metadata >/dev/null 2>&1
    fi
  fi
  if [ -n "$GRANT_ID" ] && [ -n "$APP_PID" ]; then
    curl -s -o /dev/null --max-time 5 -X DELETE -H "Host: localhost:$PORT" -H "Authorization: Bearer $PLATFORM_TOKEN" \
      "http://127.0.0.1:$PORT/api/platform/tenants/acme/break-glass/$GRANT_ID"
  fi
  for pid in $APP_PID $APP_REDIS_PID $REDIS_PID $DEMO_IDP_PIDS; do kill "$pid" 2>/dev/null; done
  for pid in $APP_PID $APP_REDIS_PID $REDIS_PID $DEMO_IDP_PIDS; do wait "$pid" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=demo/env.sh
. ./scripts/demo/env.sh
# The demo IdPs on free ports (the tenants' origins stay http://<slug>.localhost:3000, which
# browser.py and curl's Host header send to the app's real port).
export DEMO_OIDC_PORT DEMO_SAML_PORT
# shellcheck source=demo/idps.sh
. ./scripts/demo/idps.sh
IDPS_UP=0
curl -fsS -o /dev/null "http://127.0.0.1:$DEMO_OIDC_PORT/.well-known/openid-configuration" 2>/dev/null \
  && curl -fsS -o /dev/null "http://127.0.0.1:$DEMO_SAML_PORT/metadata" 2>/dev/null && IDPS_UP=1

# A key-value store of its own for each app (Spin's default is a file that outlives the run).
for name in kv redis; do
  printf '[key_value_store.default]\ntype = "spin"\npath = "%s/%s.db"\n' "$WORK" "$name" > "$WORK/$name.toml"
done
start_app() { # port runtime-config log [VAR=value...]: starts the app in the background, sets STARTED_PID
  local port="$1" config="$2" logfile="$3"; shift 3
  if [ "$KIND" = spin ]; then
    env SPIN_VARIABLE_EXTRA_PORTS="3000,$port" SPIN_VARIABLE_USAGE_FLUSH_SECS=1 "$@" \
      "$SPIN" up --from spin.toml --listen "127.0.0.1:$port" --runtime-config-file "$config" >"$logfile" 2>&1 &
  else
    env SPIN_VARIABLE_EXTRA_PORTS="3000,$port" SPIN_VARIABLE_USAGE_FLUSH_SECS=1 "$@" \
      "$SPIN" up --from spin.toml --listen "127.0.0.1:$port" --runtime-config-file "$config" --spin-compat 4.0 \
        --pg-statements any --pg-reset spin >"$logfile" 2>&1 &
  fi
  STARTED_PID=$!
}
wait_app() { # port pid log
  for _ in $(seq 1 1200); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/.well-known/spin/health" && return 0
    kill -0 "$2" 2>/dev/null || { cat "$3" >&2; log "the app did not start"; exit 1; }
    sleep 0.1
  done
  cat "$3" >&2; log "the app did not answer in 120 s"; exit 1
}
LOGFILE="$WORK/app.log" LOGFILE_REDIS="$WORK/app-redis.log"
start_app "$PORT" "$WORK/kv.toml" "$LOGFILE"; APP_PID=$STARTED_PID
wait_app "$PORT" "$APP_PID" "$LOGFILE"
# The second app (Redis rate-limit store) starts while the first one is checked.
REDIS_SERVER="$(command -v redis-server || true)"
if [ -n "$REDIS_SERVER" ]; then
  "$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$WORK/redis.log" 2>&1 &
  REDIS_PID=$!
  start_app "$PORT_REDIS_APP" "$WORK/redis.toml" "$LOGFILE_REDIS" SPIN_VARIABLE_RATE_LIMIT_STORE=redis \
    SPIN_VARIABLE_REDIS_URL="redis://127.0.0.1:$REDIS_PORT" SPIN_VARIABLE_REDIS_HOST="127.0.0.1:$REDIS_PORT"
  APP_REDIS_PID=$STARTED_PID
fi

# --- check helpers -------------------------------------------------------------------------
PASSED=0 FAILED=0
pass() { printf 'ok %s\n' "$1"; PASSED=$((PASSED + 1)); }
fail() { printf 'FAIL %s: %s\n' "$1" "$(printf '%s' "$2" | tr '\n' ' ' | cut -c1-600)"; FAILED=$((FAILED + 1)); }
check() { # name condition-status why: ok when the condition (an exit status) is 0
  if [ "$2" = 0 ]; then pass "$1"; else fail "$1" "$3"; fi
}

BASE="http://127.0.0.1:$PORT"
HEADERS="$WORK/headers"
# request HOST PATH [curl args...]: sets STATUS and BODY (headers in $HEADERS); TIME is the
# seconds it took. BASE=... request ... asks the other app.
request() {
  local host="$1" path="$2"; shift 2
  local out
  out="$(curl -s --max-time "${MAX_TIME:-10}" -D "$HEADERS" -H "Host: $host" -w '\n%{http_code} %{time_total}' "$@" "$BASE$path" || true)"
  BODY="$(printf '%s' "$out" | sed '$d')"
  local last; last="$(printf '%s' "$out" | tail -n 1)"
  STATUS="${last%% *}"; TIME="${last##* }"
  [ -n "$STATUS" ] || STATUS=000
}
header() { grep -i "^$1:" "$HEADERS" 2>/dev/null | head -n 1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//' || true; }

# pyjson TEXT EXPR: a Python expression over TEXT parsed as `b` ("ERR" when it is not JSON
# or the expression fails). json EXPR: the same over $BODY.
pyjson() { printf '%s' "$1" | python3 -c "import json,sys
try: b=json.load(sys.stdin)
except Exception: print('ERR'); sys.exit()
try: print($2)
except Exception: print('ERR')" 2>/dev/null || echo ERR; }
json() { pyjson "$BODY" "$1"; }

# An error body of the documented shape with this code.
error_is() {
  [ "$(json "sorted(b.keys())==['error'] and sorted(b['error'].keys())==['code','message','request_id'] and all(isinstance(v,str) and v for v in b['error'].values()) and b['error']['code']")" = "$1" ]
}
expect_error() { # name status code
  if [ "$STATUS" = "$2" ] && error_is "$3"; then pass "$1"; else fail "$1" "got $STATUS $BODY"; fi
}
titles() { json "'|'.join(i['title'] for i in b['items'])"; }

# eventually SECONDS COMMAND...: runs COMMAND (which sets STATUS/BODY) until it returns 0
# or SECONDS pass; its last status is eventually's.
eventually() {
  local deadline=$((SECONDS + $1)); shift
  while :; do
    "$@" && return 0
    [ $SECONDS -ge "$deadline" ] && return 1
    sleep 0.25
  done
}

# browse ARGS...: scripts/conformance/browser.py against the first app; sets OUT and BROWSE_RC.
browse() {
  OUT="$(python3 scripts/conformance/browser.py --app "127.0.0.1:$PORT" "$@" 2>&1)" && BROWSE_RC=0 || BROWSE_RC=$?
}
cookie_of() { pyjson "$OUT" "b['cookies'].get('$1',{}).get('tg_session','')"; }
browse_why() {
  local why; why="$(pyjson "$OUT" "b.get('error','') + ' | ' + ' ; '.join(b.get('trail',[])) + ' | ' + b.get('body','')[:300]")"
  if [ "$why" = ERR ]; then printf '%s' "$OUT" | tail -n 5; else printf '%s' "$why"; fi
}

A="acme.localhost:$PORT" G="globex.localhost:$PORT"
# The tenants' own origins, as the IdPs know them.
A3="acme.localhost:3000" G3="globex.localhost:3000" ORIGIN_A="http://acme.localhost:3000" ORIGIN_G="http://globex.localhost:3000"
SINCE="$(date -u -d '-5 seconds' +%Y-%m-%dT%H:%M:%SZ)"
log "checking $BASE"

# --- the README's curls, hosts, forged headers, error shape --------------------------------
request "$A" /api/tasks
if [ "$STATUS" = 200 ] && [[ "$(titles)" == *"Order more rocket fuel"* ]] && [[ "$(titles)" != *"Hire henchmen"* ]]; then
  pass "acme's list"; else fail "acme's list" "$STATUS $BODY"; fi
request "$G" /api/tasks
if [ "$STATUS" = 200 ] && [ "$(titles)" = "Hire henchmen" ]; then
  pass "globex's list"; else fail "globex's list" "$STATUS $BODY"; fi

MAX_TIME=2 request "$A" /api/tasks/b2000000-0000-4000-8000-000000000001
expect_error "another tenant's task id: 404 within 2 s" 404 not_found
MAX_TIME=2 request "initech.localhost:$PORT" /api/tasks
expect_error "unknown tenant: 404 within 2 s" 404 unknown_tenant
MAX_TIME=2 request "$A" /api/tasks/a2000000-0000-4000-8000-0000000000ff
expect_error "a task id that does not exist: 404 within 2 s" 404 not_found
request "$A" /api/projects -X POST -H 'content-type: application/json' -d '{"name":"x"}'
expect_error "a write without the permission: 403" 403 forbidden
request "localhost:$PORT" /api/tasks
expect_error "the apex without a token: 401" 401 unauthenticated

for host in "upper-case host:ACME.LOCALHOST:$PORT" "trailing-dot host:acme.localhost.:$PORT"; do
  request "${host#*:}" /api/tasks
  if [ "$STATUS" = 200 ] && [[ "$(titles)" == *"Order more rocket fuel"* ]]; then
    pass "${host%%:*}"; else fail "${host%%:*}" "${host#*:}: $STATUS $BODY"; fi
done

request "$A" /api/tasks -H 'x-tenant-context: v2~demo~forged~forged' -H "spin-full-url: http://$G/api/tasks" \
  -H "x-tenant-host: $G" -H "spin-client-addr: 10.0.0.1:1"
if [ "$STATUS" = 200 ] && [[ "$(titles)" == *"Order more rocket fuel"* ]] && [[ "$(titles)" != *"Hire henchmen"* ]]; then
  pass "forged internal headers are ignored"; else fail "forged internal headers are ignored" "$STATUS $BODY"; fi
request "$G" /api/tasks -H "spin-full-url: http://$A/api/tasks"
if [ "$STATUS" = 200 ] && [ "$(titles)" = "Hire henchmen" ]; then
  pass "a forged spin-full-url does not change the tenant"; else fail "a forged spin-full-url does not change the tenant" "$STATUS $BODY"; fi

BIG="$WORK/big"; head -c 11000000 /dev/zero | tr '\0' 'x' > "$BIG"
request "$A" /api/projects -X POST -H 'content-type: application/json' --data-binary "@$BIG"
rm -f "$BIG"
expect_error "an oversized body: 413" 413 payload_too_large

# --- logins --------------------------------------------------------------------------------
[ "$IDPS_UP" = 1 ] || log "the demo IdPs did not start (see .tenantgate/idp/*.log): the login checks fail"
me_is() { # cookie host email role: /api/org/me with the cookie is that user with that role
  request "$2" /api/org/me -H "Cookie: tg_session=$1"
  [ "$STATUS" = 200 ] && [ "$(json "b['user']['email']+' '+b['role']+' '+b['tenant']['slug']")" = "$3 $4 ${2%%.*}" ]
}

# OIDC on acme: alice from the tenant's login page, through the IdP's login form, back to /admin.
browse --user alice --password alice --expect-path /admin "$ORIGIN_A/auth/login?return_to=/admin"
ALICE="$(cookie_of acme.localhost)"
if [ "$BROWSE_RC" = 0 ] && [ -n "$ALICE" ] && [ "$ALICE" != ERR ]; then
  pass "oidc login: alice signs in on acme through the IdP's form"
else ALICE=""; fail "oidc login: alice signs in on acme through the IdP's form" "$(browse_why)"; fi
if [ -n "$ALICE" ] && me_is "$ALICE" "$A3" alice@acme.example owner; then
  pass "oidc session: /api/org/me with the cookie is alice, acme's owner"
else fail "oidc session: /api/org/me with the cookie is alice, acme's owner" "${ALICE:+$STATUS $BODY}${ALICE:-no session}"; fi
request "$A3" /api/org/me
expect_error "without the cookie /api/org/me is 401" 401 unauthenticated
request "$G3" /api/org/me -H "Cookie: tg_session=${ALICE:-none}"
expect_error "acme's session cookie on globex's host: 401 session_invalid" 401 session_invalid

# SAML on globex: bob through the IdP's form and the auto-posting form to the ACS.
browse --user bob --password bob --expect-path /admin "$ORIGIN_G/auth/login?return_to=/admin"
BOB="$(cookie_of globex.localhost)"
if [ "$BROWSE_RC" = 0 ] && [ -n "$BOB" ] && [ "$BOB" != ERR ]; then
  if pyjson "$OUT" "any('/auth/saml/acs' in t and t.startswith('POST') for t in b['trail'])" | grep -q True; then
    pass "saml login: bob signs in on globex through the IdP's form and the ACS form"
  else BOB=""; fail "saml login: bob signs in on globex through the IdP's form and the ACS form" "no POST to /auth/saml/acs: $(browse_why)"; fi
else BOB=""; fail "saml login: bob signs in on globex through the IdP's form and the ACS form" "$(browse_why)"; fi
if [ -n "$BOB" ] && me_is "$BOB" "$G3" bob@globex.example owner; then
  pass "saml session: /api/org/me with the cookie is bob, globex's owner"
else fail "saml session: /api/org/me with the cookie is bob, globex's owner" "${BOB:+$STATUS $BODY}${BOB:-no session}"; fi

# --- /admin and /platform pages --------------------------------------------------------------
# page_loads HOST PATH COOKIE-HEADER...: the page's HTML and every stylesheet, script and ES
# module it reaches (imports followed) answer 200; sets PAGE_WHY on failure.
page_loads() {
  local host="$1" path="$2"; shift 2
  PAGE_WHY="" PAGE_ASSETS=0
  request "$host" "$path" "$@"
  [ "$STATUS" = 200 ] && [[ "$(header content-type)" == text/html* ]] || { PAGE_WHY="$path: $STATUS $(header content-type)"; return 1; }
  local queue seen asset
  queue="$(printf '%s' "$BODY" | grep -oE '(href|src)="/[^"]+\.(css|js)"' | sed -E 's/^(href|src)="//; s/"$//')"
  seen=""
  while [ -n "$queue" ]; do
    asset="$(printf '%s\n' "$queue" | head -n 1)"; queue="$(printf '%s\n' "$queue" | sed '1d')"
    case " $seen " in *" $asset "*) continue ;; esac
    seen="$seen $asset"
    request "$host" "$asset" "$@"
    [ "$STATUS" = 200 ] || { PAGE_WHY="$asset: $STATUS"; return 1; }
    PAGE_ASSETS=$((PAGE_ASSETS + 1))
    if [[ "$asset" == *.js ]]; then
      local dir="${asset%/*}" imp
      for imp in $(printf '%s' "$BODY" | grep -oE "from '\./[^']+'|import\('\./[^']+'\)" | grep -oE "\./[^']+"); do
        queue="$(printf '%s\n%s' "$queue" "$dir/${imp#./}")"
      done
    fi
  done
  [ "$PAGE_ASSETS" -ge 2 ] || { PAGE_WHY="only $PAGE_ASSETS assets found"; return 1; }
}
if [ -n "$ALICE" ] && page_loads "$A3" /admin -H "Cookie: tg_session=$ALICE"; then
  pass "/admin: the page and its assets load for an owner"
else fail "/admin: the page and its assets load for an owner" "${ALICE:+$PAGE_WHY}${ALICE:-no session}"; fi
# What the pages call (components/orgs/static/*.js), as the owner.
ADMIN_APIS="/auth/session /api/org/me /api/org/members?limit=50 /api/org/invitations?status=pending&limit=50
/api/org/roles?limit=100 /api/org/permissions?limit=100 /api/org/domains?limit=100 /api/org/sso
/api/org/usage?days=30 /api/org/audit?limit=50 /api/org/audit/export?format=jsonl&limit=10
/api/org/organisations?limit=100"
why=""
for api in $ADMIN_APIS; do
  request "$A3" "$api" -H "Cookie: tg_session=${ALICE:-none}"
  [ "$STATUS" = 200 ] || why="$why $api=$STATUS"
done
for sub in /admin/members /admin/invitations /admin/roles /admin/audit /admin/usage /admin/sso /admin/organisations; do
  request "$A3" "$sub" -H "Cookie: tg_session=${ALICE:-none}"
  [ "$STATUS" = 200 ] || why="$why $sub=$STATUS"
done
check "/admin: every JSON API the pages call (and each page path) answers 200 for an owner" "$([ -z "$why" ] && echo 0 || echo 1)" "$why"
if page_loads "localhost:3000" /platform; then pass "/platform: the console and its assets load"
else fail "/platform: the console and its assets load" "$PAGE_WHY"; fi

# --- switching organisations ------------------------------------------------------------------
browse --method POST --form to=globex --form return_to=/admin --header "Origin: $ORIGIN_A" \
  --cookie acme.localhost "tg_session=${ALICE:-none}" --expect-path /admin "$ORIGIN_A/auth/switch"
ALICE_G="$(cookie_of globex.localhost)"
if [ "$BROWSE_RC" = 0 ] && [ -n "$ALICE_G" ] && [ "$ALICE_G" != ERR ] \
   && pyjson "$OUT" "any('/auth/switch/complete' in t for t in b['trail'])" | grep -q True; then
  pass "switch: alice moves from acme to globex (POST /auth/switch, /auth/switch/complete)"
else ALICE_G=""; fail "switch: alice moves from acme to globex (POST /auth/switch, /auth/switch/complete)" "$(browse_why)"; fi
if [ -n "$ALICE_G" ] && me_is "$ALICE_G" "$G3" alice@acme.example member; then
  pass "switch: the globex session is alice's, a member of globex"
else fail "switch: the globex session is alice's, a member of globex" "${ALICE_G:+$STATUS $BODY}${ALICE_G:-no session}"; fi

# --- the organisation API: removal, invitation, acceptance, roles, audit ----------------------
as_alice() { local m="$1" p="$2"; shift 2; request "$A3" "$p" -X "$m" -H "Cookie: tg_session=${ALICE:-none}" -H "Origin: $ORIGIN_A" "$@"; }
browse --user carol --password carol --expect-path /admin "$ORIGIN_A/auth/sso?return_to=/admin"
CAROL="$(cookie_of acme.localhost)"
if [ "$BROWSE_RC" = 0 ] && [ -n "$CAROL" ] && [ "$CAROL" != ERR ] && me_is "$CAROL" "$A3" carol@acme.example member; then
  pass "oidc login: carol, a member, signs in on acme"
else CAROL=""; fail "oidc login: carol, a member, signs in on acme" "$(browse_why) $STATUS $BODY"; fi
# A pending invitation for carol left by an interrupted run would make the invitation a 409.
as_alice GET "/api/org/invitations?status=pending&limit=100"
for id in $(json "' '.join(i['id'] for i in b['items'] if i['email']=='carol@acme.example')"); do
  [ "$id" = ERR ] || as_alice POST "/api/org/invitations/$id/revoke"
done
as_alice DELETE "/api/org/members/$CAROL_ID"
check "members: the owner removes carol (DELETE /api/org/members/{id}: 204)" "$([ "$STATUS" = 204 ] && echo 0 || echo 1)" "$STATUS $BODY"
carol_refused() { request "$A3" /api/org/me -H "Cookie: tg_session=${CAROL:-none}"; [ "$STATUS" = 401 ] && error_is session_invalid; }
if [ -n "$CAROL" ] && eventually 6 carol_refused; then pass "members: the removed member's session is refused within 6 s (401 session_invalid)"
else fail "members: the removed member's session is refused within 6 s (401 session_invalid)" "${CAROL:+$STATUS $BODY}${CAROL:-no session}"; fi
request "$A3" /api/org/me -H "Cookie: tg_session=${ALICE:-none}"
check "members: the owner's own session still works after the removal" "$([ "$STATUS" = 200 ] && echo 0 || echo 1)" "$STATUS $BODY"

as_alice POST /api/org/invitations -H 'content-type: application/json' -d '{"email":"carol@acme.example","role":"member"}'
INVITE_TOKEN="$(json "b['token']")" INVITE_ID="$(json "b['invitation']['id']")"
check "invite: the owner invites carol@acme.example as a member (201, a token)" \
  "$([ "$STATUS" = 201 ] && [ "$INVITE_TOKEN" != ERR ] && echo 0 || echo 1)" "$STATUS $BODY"
browse --user carol --password carol --expect-path /admin "$ORIGIN_A/auth/login?invitation=$INVITE_TOKEN&return_to=/admin"
CAROL="$(cookie_of acme.localhost)"
accepted() {
  as_alice GET "/api/org/invitations?status=accepted&limit=100"
  [ "$(json "any(i['id']=='$INVITE_ID' for i in b['items'])")" = True ]
}
if [ "$BROWSE_RC" = 0 ] && [ -n "$CAROL" ] && [ "$CAROL" != ERR ] && me_is "$CAROL" "$A3" carol@acme.example member && accepted; then
  pass "accept: carol signs in with the invitation link, is a member again, the invitation is accepted"
else CAROL=""; fail "accept: carol signs in with the invitation link, is a member again, the invitation is accepted" "$(browse_why) $STATUS $BODY"; fi

as_alice PATCH "/api/org/members/$CAROL_ID" -H 'content-type: application/json' -d '{"role":"admin"}'
check "roles: the owner makes carol an admin (PATCH: 200)" "$([ "$STATUS" = 200 ] && [ "$(json "b['role']")" = admin ] && echo 0 || echo 1)" "$STATUS $BODY"
carol_is_admin() { [ -n "$CAROL" ] && me_is "$CAROL" "$A3" carol@acme.example admin; }
if eventually 6 carol_is_admin; then pass "roles: carol's session has the admin role within 6 s"
else fail "roles: carol's session has the admin role within 6 s" "$STATUS $BODY"; fi
as_alice PATCH "/api/org/members/$CAROL_ID" -H 'content-type: application/json' -d '{"role":"member"}'
check "roles: and back to member (PATCH: 200)" "$([ "$STATUS" = 200 ] && [ "$(json "b['role']")" = member ] && echo 0 || echo 1)" "$STATUS $BODY"

as_alice GET "/api/org/audit?since=$SINCE&limit=100"
missing="$(json "' '.join(a for a in ['member.removed','invitation.created','invitation.accepted','member.role_changed'] if not any(e['action']==a for e in b['items']))")"
check "audit: acme's log shows member.removed, invitation.created, invitation.accepted, member.role_changed" \
  "$([ "$STATUS" = 200 ] && [ -z "$missing" ] && echo 0 || echo 1)" "$STATUS missing: $missing"

# --- the platform API and break-glass --------------------------------------------------------
PLATFORM_TOKEN="$("$TENANTGATE" platform token --minutes 30 2>/dev/null || true)"
as_platform() { local m="$1" host="$2" p="$3"; shift 3; request "$host" "$p" -X "$m" -H "Authorization: Bearer ${PLATFORM_TOKEN:-none}" "$@"; }
as_platform GET "localhost:$PORT" "/api/platform/tenants?q=acme"
check "platform: the tenant list on the apex has acme" "$([ "$STATUS" = 200 ] && [ "$(json "any(t['slug']=='acme' for t in b['tenants'])")" = True ] && echo 0 || echo 1)" "$STATUS $BODY"
as_platform GET "$A" "/api/org/members?limit=100"
expect_error "platform: without a grant the token is refused on acme's host (403 break_glass_required)" 403 break_glass_required
as_platform POST "localhost:$PORT" /api/platform/tenants/acme/break-glass -H 'content-type: application/json' \
  -d '{"reason":"conformance check","write":false,"minutes":5}'
GRANT_ID="$(json "b.get('id') or b.get('grant',{}).get('id')")"
[ "$GRANT_ID" = ERR ] || [ "$GRANT_ID" = None ] && GRANT_ID=""
check "platform: a read-only break-glass grant on acme (201)" "$([ "$STATUS" = 201 ] && [ -n "$GRANT_ID" ] && echo 0 || echo 1)" "$STATUS $BODY"
as_platform GET "$A" "/api/org/members?limit=100"
check "platform: with the grant the token reads acme's members on acme's host" \
  "$([ "$STATUS" = 200 ] && [ "$(json "any(m['email']=='alice@acme.example' for m in b['items'])")" = True ] && echo 0 || echo 1)" "$STATUS $BODY"
as_platform POST "$A" /api/projects -H 'content-type: application/json' -d '{"name":"break-glass write"}'
expect_error "platform: a read-only grant does not write (403 forbidden)" 403 forbidden
as_platform DELETE "localhost:$PORT" "/api/platform/tenants/acme/break-glass/${GRANT_ID:-none}"
revoked=$([ "${STATUS:0:1}" = 2 ] && echo 0 || echo 1); revoke_answer="$STATUS $BODY"
[ "$revoked" = 0 ] && GRANT_ID=""
as_platform GET "$A" "/api/org/members?limit=100"
if [ "$revoked" = 0 ] && [ "$STATUS" = 403 ] && error_is break_glass_required; then
  pass "platform: after the revocation the token is refused again"
else fail "platform: after the revocation the token is refused again" "revoke: $revoke_answer; then $STATUS $BODY"; fi
as_alice GET "/api/org/audit?since=$SINCE&action=platform.&limit=100"
missing="$(json "' '.join(a for a in ['platform.break_glass.granted','platform.break_glass.access','platform.break_glass.revoked'] if not any(e['action']==a for e in b['items']))")"
check "platform: acme's audit log shows the grant, the access and the revocation" \
  "$([ "$STATUS" = 200 ] && [ -z "$missing" ] && echo 0 || echo 1)" "$STATUS missing: $missing"

# --- usage -----------------------------------------------------------------------------------
# globex's anonymous refused writes today, as `tenantgate usage` shows them (nothing else in
# this script makes them).
usage_writes() {
  "$TENANTGATE" usage globex --database-url "$ADMIN_URL" --format json 2>/dev/null | python3 -c "import json,sys,datetime
today=datetime.datetime.now(datetime.timezone.utc).date().isoformat()
print(sum(r['requests'] for r in json.load(sys.stdin) if str(r['day'])==today and r['route_class']=='write' and r['status_family']=='4xx' and r['audience']=='anonymous'))" 2>/dev/null || echo ERR
}
USAGE_BEFORE="$(usage_writes)"
for _ in 1 2 3; do request "$G" /api/projects -X POST -H 'content-type: application/json' -d '{"name":"x"}'; done
usage_flushed() {
  request "$G" /api/tasks # any request after the interval flushes
  USAGE_AFTER="$(usage_writes)"
  [ "$USAGE_BEFORE" != ERR ] && [ "$USAGE_AFTER" != ERR ] && [ "$USAGE_AFTER" -ge $((USAGE_BEFORE + 3)) ]
}
if eventually 10 usage_flushed; then pass "usage: 3 refused writes flushed and shown by tenantgate usage globex"
else fail "usage: 3 refused writes flushed and shown by tenantgate usage globex" "before $USAGE_BEFORE, after ${USAGE_AFTER:-?}"; fi

# --- logout ----------------------------------------------------------------------------------
as_alice POST /auth/logout
logout_answer="$STATUS"
alice_refused() { request "$A3" /api/org/me -H "Cookie: tg_session=${ALICE:-none}"; [ "$STATUS" = 401 ] && error_is session_invalid; }
if [ -n "$ALICE" ] && [ "${logout_answer:0:1}" != 4 ] && [ "${logout_answer:0:1}" != 5 ] && eventually 6 alice_refused; then
  pass "logout: POST /auth/logout, then the session cookie is refused (401 session_invalid)"
else fail "logout: POST /auth/logout, then the session cookie is refused (401 session_invalid)" "logout $logout_answer; then $STATUS $BODY"; fi

# --- suspension ------------------------------------------------------------------------------
"$TENANTGATE" tenant suspend acme --database-url "$ADMIN_URL" --reason "conformance check" >/dev/null
acme_suspended() { request "$A" /api/tasks; [ "$STATUS" = 403 ]; }
eventually 6 acme_suspended || true
expect_error "suspension takes effect within 6 s" 403 tenant_suspended
request "$G" /api/tasks
if [ "$STATUS" = 200 ]; then pass "another tenant is not suspended with it"; else fail "another tenant is not suspended with it" "$STATUS $BODY"; fi
"$TENANTGATE" tenant reactivate acme --database-url "$ADMIN_URL" >/dev/null
acme_served() { request "$A" /api/tasks; [ "$STATUS" = 200 ]; }
eventually 6 acme_served || true
if [ "$STATUS" = 200 ]; then pass "reactivation serves the tenant again within 6 s"; else fail "reactivation serves the tenant again within 6 s" "$STATUS $BODY"; fi

# --- rate limits: key-value, then Redis --------------------------------------------------------
# burst_check STORE PORT: 160 anonymous requests to acme (300/min, burst 100 for each client):
# 200s, then 429 rate_limited with Retry-After and RateLimit headers; globex keeps answering.
burst_check() {
  local store="$1" port="$2" out
  out="$(python3 scripts/conformance/burst.py --app "127.0.0.1:$port" --host "$A3" --path /api/tasks -n 160 2>&1 || true)"
  local verdict
  verdict="$(pyjson "$out" "(lambda c, f: 'ok' if c.get('200',0) >= 50 and c.get('429',0) >= 20 and set(c) <= {'200','429'}
    and all(k in f['429']['headers'] for k in ('retry-after','ratelimit','ratelimit-policy'))
    and int(f['429']['headers']['retry-after']) >= 1 and json.loads(f['429']['body'])['error']['code'] == 'rate_limited'
    and all(k in f['200']['headers'] for k in ('ratelimit','ratelimit-policy'))
    else 'counts %s, first 429 %s' % (c, f.get('429')))(b['counts'], b['first'])")"
  [ "$verdict" = ok ] && pass "rate limit ($store): a burst gives 429 rate_limited with Retry-After, RateLimit, RateLimit-Policy" \
    || fail "rate limit ($store): a burst gives 429 rate_limited with Retry-After, RateLimit, RateLimit-Policy" "$verdict $out"
  BASE="http://127.0.0.1:$port" request "$G3" /api/tasks
  [ "$STATUS" = 200 ] && pass "rate limit ($store): another tenant keeps answering" \
    || fail "rate limit ($store): another tenant keeps answering" "$STATUS $BODY"
}
burst_check kv "$PORT"

if [ -z "$REDIS_SERVER" ]; then
  for c in "a burst gives 429 rate_limited with Retry-After, RateLimit, RateLimit-Policy" "another tenant keeps answering" \
           "the buckets are Redis keys" "Redis down: 503 dependency_unavailable"; do
    fail "rate limit (redis): $c" "redis-server is not installed (scripts/setup.sh installs it)"
  done
else
  wait_app "$PORT_REDIS_APP" "$APP_REDIS_PID" "$LOGFILE_REDIS"
  burst_check redis "$PORT_REDIS_APP"
  keys="$(python3 - "$REDIS_PORT" "tg:rl:$ACME_ID:*" <<'PY' 2>&1 || true
import socket, sys
# SCAN over RESP by hand (no redis-cli needed): the rate-limit keys of acme.
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
f = s.makefile("rb")
def cmd(*args):
    s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in (x.encode() for x in args)))
    return read()
def read():
    line = f.readline().rstrip(b"\r\n")
    kind, rest = line[:1], line[1:]
    if kind == b"*":
        return [read() for _ in range(int(rest))]
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2].decode()
    return rest.decode()
cursor, found = "0", []
while True:
    cursor, batch = cmd("SCAN", cursor, "MATCH", sys.argv[2], "COUNT", "1000")
    found += batch
    if cursor == "0":
        break
print(len(found))
PY
)"
  check "rate limit (redis): the buckets are Redis keys (tg:rl:<acme's id>:*)" "$([ "${keys:-0}" -gt 0 ] 2>/dev/null && echo 0 || echo 1)" "keys: $keys"
  kill "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" 2>/dev/null || true; REDIS_PID=""
  BASE="http://127.0.0.1:$PORT_REDIS_APP" request "$A3" /api/tasks
  expect_error "rate limit (redis): Redis down: 503 dependency_unavailable" 503 dependency_unavailable
fi

# --- summary ---------------------------------------------------------------------------------
printf '%d checks: %d ok, %d failed (%s, %d s)\n' $((PASSED + FAILED)) "$PASSED" "$FAILED" "$KIND" $((SECONDS - STARTED))
if [ "$FAILED" -gt 0 ]; then
  log "$FAILED check(s) failed on $KIND; the app's log:"
  tail -n 60 "$LOGFILE" >&2
  [ -z "$APP_REDIS_PID" ] || { log "the Redis-store app's log:"; tail -n 20 "$LOGFILE_REDIS" >&2; }
  exit 1
fi
log "all checks passed on $KIND"
