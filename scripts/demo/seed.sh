#!/usr/bin/env bash
# Puts the demo into a database: migrations through the project's CLI, the tenants acme
# (shared) and globex (schema tenant_globex), then their data. Idempotent.
# Usage: scripts/demo/seed.sh <superuser database URL> <tenantgate binary> <psql>
# (TENANTGATE_MIGRATIONS=dir applies the migrations of dir instead of ./migrations.)
set -euo pipefail
cd "$(dirname "$0")/../.."
admin="$1" tenantgate="$2" psql="$3"
sql() { "$psql" "$admin" -X -q -v ON_ERROR_STOP=1 -f "$1" >/dev/null; }
# 1. control plane and the shared placement; 2. the tenants' registry entries;
# 3. their placements (tenant_globex); 4. their projects and tasks.
"$tenantgate" migrate --database-url "$admin" --migrations "${TENANTGATE_MIGRATIONS:-migrations}" >/dev/null
sql scripts/demo/tenants.sql
"$tenantgate" migrate --database-url "$admin" --migrations "${TENANTGATE_MIGRATIONS:-migrations}" >/dev/null
sql scripts/demo/data.sql
