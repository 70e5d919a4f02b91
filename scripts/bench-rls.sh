#!/usr/bin/env bash
# RLS with the verified tenant context vs an explicit `WHERE tenant_id = $1`, side by side in one run:
# starts a throwaway Postgres (tests/harness/postgres.rs), applies the migrations, loads 10,000 tenants and
# 1,000,000 tasks, prints EXPLAIN (ANALYZE, BUFFERS) of each query and a table of p50/p99 and ratios (markdown,
# on stdout; progress on stderr). See BENCHMARKS.md, "RLS vs explicit tenant filter".
#
# Usage: ./scripts/bench-rls.sh [iterations]   (default 5000, after 500 warm-up ones; about 1 ms each)
set -euo pipefail
cd "$(dirname "$0")/.."
RLS_BENCH_ITERS="${1:-5000}" cargo bench -p tenantgate-tests --bench rls
