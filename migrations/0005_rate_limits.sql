-- 0005_rate_limits.sql: per-tenant rate limits, monthly quotas and usage metering (issue 14).
--
-- tenantgate:scope control
--   Apply once, to the control-plane database, after 0004, inside one transaction. Runs as tenantgate_owner.
--
-- Limits live in plans (platform-scoped) and per-tenant overrides (tenantgate.tenant_limits); the gateway reads
-- the merged document with the tenant (tenantgate.effective_limits(), cached like the tenant, so a change is in
-- effect on every instance within the tenant cache's 5 s). The document, every key optional (absent = no limit):
--
--   {"tenant":    {"requests": 6000, "per_seconds": 60, "burst": 600},  signed-in traffic, tenant-wide
--    "user":      {...},                                                 per signed-in user
--    "anonymous": {...},                                                 all anonymous traffic, tenant-wide
--    "client":    {...},                                                 anonymous, per client address (/32, /64)
--    "read":      {...},                                                 per user or client, safe methods
--    "write":     {...},                                                 per user or client, non-safe methods
--    "auth":      {...},                                                 per user or client, /auth/ routes
--    "monthly_requests": 100000}                                         signed-in requests per calendar month
--
-- An override replaces whole top-level keys of the plan's document; a JSON null in an override removes that
-- limit. Usage is counted by the gateway in its counter store and flushed here in batches
-- (tenantgate.record_usage()), one row per tenant, day, route class, status family and audience.

SET LOCAL client_min_messages = warning;  -- no NOTICEs for the IF [NOT] EXISTS skips

SET LOCAL ROLE tenantgate_owner;

DO $$
BEGIN
    IF current_user <> 'tenantgate_owner' THEN
        RAISE EXCEPTION 'apply this file inside one transaction (SET LOCAL ROLE tenantgate_owner had no effect)';
    END IF;
    IF pg_catalog.to_regclass('tenantgate.plans') IS NULL THEN
        RAISE EXCEPTION 'apply 0002_control_plane.sql to this database first';
    END IF;
END
$$;

-- The plans' documents in the structured form (only where they still hold 0002's seed, so an operator's
-- change is kept).
UPDATE tenantgate.plans SET limits = v.limits
  FROM (VALUES
    ('free', '{"requests_per_minute": 600, "user_requests_per_minute": 120, "monthly_requests": 100000}'::jsonb,
     '{"tenant": {"requests": 600, "per_seconds": 60, "burst": 100},
       "user": {"requests": 120, "per_seconds": 60, "burst": 30},
       "anonymous": {"requests": 300, "per_seconds": 60, "burst": 60},
       "client": {"requests": 60, "per_seconds": 60, "burst": 20},
       "write": {"requests": 60, "per_seconds": 60, "burst": 20},
       "auth": {"requests": 10, "per_seconds": 60, "burst": 5},
       "monthly_requests": 100000}'::jsonb),
    ('pro', '{"requests_per_minute": 6000, "user_requests_per_minute": 600, "monthly_requests": 5000000}'::jsonb,
     '{"tenant": {"requests": 6000, "per_seconds": 60, "burst": 1000},
       "user": {"requests": 600, "per_seconds": 60, "burst": 100},
       "anonymous": {"requests": 1200, "per_seconds": 60, "burst": 200},
       "client": {"requests": 120, "per_seconds": 60, "burst": 40},
       "write": {"requests": 300, "per_seconds": 60, "burst": 50},
       "auth": {"requests": 20, "per_seconds": 60, "burst": 10},
       "monthly_requests": 5000000}'::jsonb),
    ('enterprise', '{"requests_per_minute": 60000, "user_requests_per_minute": 3000, "monthly_requests": 100000000}'::jsonb,
     '{"tenant": {"requests": 60000, "per_seconds": 60, "burst": 10000},
       "user": {"requests": 3000, "per_seconds": 60, "burst": 500},
       "anonymous": {"requests": 6000, "per_seconds": 60, "burst": 1000},
       "client": {"requests": 300, "per_seconds": 60, "burst": 100},
       "write": {"requests": 1500, "per_seconds": 60, "burst": 250},
       "auth": {"requests": 30, "per_seconds": 60, "burst": 10},
       "monthly_requests": 100000000}'::jsonb)
  ) AS v (id, seed, limits)
 WHERE plans.id = v.id AND plans.limits = v.seed;

-- Per-tenant overrides ---------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS tenantgate.tenant_limits (
    tenant_id  uuid        NOT NULL,
    limits     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tenant_limits_pkey PRIMARY KEY (tenant_id),
    CONSTRAINT tenant_limits_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenantgate.tenants (id) ON DELETE CASCADE,
    CONSTRAINT tenant_limits_object CHECK (jsonb_typeof(limits) = 'object')
);
COMMENT ON TABLE tenantgate.tenant_limits IS
    'tenant-scoped: per-tenant overrides of the plan''s limits (whole top-level keys; null removes one).';

-- Usage ------------------------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS tenantgate.usage_daily (
    tenant_id     uuid        NOT NULL,
    day           date        NOT NULL,
    route_class   text        NOT NULL,
    status_family text        NOT NULL,
    audience      text        NOT NULL,
    requests      bigint      NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT usage_daily_pkey PRIMARY KEY (tenant_id, day, route_class, status_family, audience),
    CONSTRAINT usage_daily_class_valid CHECK (route_class IN ('read', 'write', 'auth')),
    CONSTRAINT usage_daily_family_valid CHECK (status_family IN ('1xx', '2xx', '3xx', '4xx', '5xx', '429')),
    CONSTRAINT usage_daily_audience_valid CHECK (audience IN ('user', 'anonymous')),
    CONSTRAINT usage_daily_requests_nonnegative CHECK (requests >= 0)
);
COMMENT ON TABLE tenantgate.usage_daily IS
    'tenant-scoped: requests per tenant per UTC day, route class, status family (429 on its own) and audience, '
    'flushed by the gateway in batches. No foreign key to tenants: billing rows outlive a purged tenant.';

ALTER TABLE tenantgate.tenant_limits ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenantgate.tenant_limits FORCE ROW LEVEL SECURITY;
ALTER TABLE tenantgate.usage_daily   ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenantgate.usage_daily   FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON tenantgate.tenant_limits;
CREATE POLICY tenant_isolation ON tenantgate.tenant_limits FOR ALL TO tenantgate_app
    USING (tenant_id = (SELECT tenantgate.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT tenantgate.current_tenant_id()));
DROP POLICY IF EXISTS tenant_isolation ON tenantgate.usage_daily;
CREATE POLICY tenant_isolation ON tenantgate.usage_daily FOR ALL TO tenantgate_app
    USING (tenant_id = (SELECT tenantgate.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT tenantgate.current_tenant_id()));

-- Functions the gateway calls (owned by tenantgate_resolver, BYPASSRLS, like resolve_tenant_by_*) -------------------

-- The tenant's limits: its plan's document with its overrides applied, nulls removed. NULL for no such tenant.
CREATE OR REPLACE FUNCTION tenantgate.effective_limits(p_tenant uuid)
RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.jsonb_strip_nulls(p.limits || COALESCE(o.limits, '{}'::jsonb))
      FROM tenantgate.tenants AS t
      JOIN tenantgate.plans AS p ON p.id = t.plan
      LEFT JOIN tenantgate.tenant_limits AS o ON o.tenant_id = t.id
     WHERE t.id = p_tenant
$$;

-- Adds a batch of counts: p_rows is a JSON array of
-- {"tenant": uuid, "day": "YYYY-MM-DD", "class": ..., "family": ..., "audience": ..., "requests": n}.
-- Rows of tenants that do not exist are dropped (a purged tenant's last counts). Returns the rows applied.
CREATE OR REPLACE FUNCTION tenantgate.record_usage(p_rows jsonb)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    applied integer;
BEGIN
    IF pg_catalog.jsonb_typeof(p_rows) <> 'array' THEN
        RAISE EXCEPTION 'record_usage takes a JSON array' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO tenantgate.usage_daily AS u (tenant_id, day, route_class, status_family, audience, requests)
    SELECT r.tenant, r.day, r.class, r.family, r.audience, pg_catalog.sum(r.requests)
      FROM pg_catalog.jsonb_to_recordset(p_rows)
           AS r (tenant uuid, day date, class text, family text, audience text, requests bigint)
      JOIN tenantgate.tenants AS t ON t.id = r.tenant
     WHERE r.requests > 0
     GROUP BY r.tenant, r.day, r.class, r.family, r.audience
    ON CONFLICT (tenant_id, day, route_class, status_family, audience)
    DO UPDATE SET requests = u.requests + excluded.requests, updated_at = pg_catalog.now();
    GET DIAGNOSTICS applied = ROW_COUNT;
    RETURN applied;
END
$$;

-- Signed-in requests of the tenant in the UTC calendar month holding p_day (what the monthly quota counts).
CREATE OR REPLACE FUNCTION tenantgate.monthly_usage(p_tenant uuid, p_day date)
RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE(pg_catalog.sum(u.requests), 0)::bigint
      FROM tenantgate.usage_daily AS u
     WHERE u.tenant_id = p_tenant
       AND u.day >= pg_catalog.date_trunc('month', p_day)::date
       AND u.day <= p_day
       AND u.audience = 'user'
       AND u.status_family <> '429'
$$;

REVOKE ALL ON TABLE tenantgate.tenant_limits, tenantgate.usage_daily FROM PUBLIC, tenantgate_app, tenantgate_resolver;
GRANT SELECT ON TABLE tenantgate.plans, tenantgate.tenant_limits TO tenantgate_resolver;
GRANT SELECT, INSERT, UPDATE ON TABLE tenantgate.usage_daily TO tenantgate_resolver;
-- A tenant may read its own usage (RLS); it never writes it.
GRANT SELECT ON TABLE tenantgate.usage_daily TO tenantgate_app;

GRANT CREATE ON SCHEMA tenantgate TO tenantgate_resolver;
ALTER FUNCTION tenantgate.effective_limits(uuid)    OWNER TO tenantgate_resolver;
ALTER FUNCTION tenantgate.record_usage(jsonb)       OWNER TO tenantgate_resolver;
ALTER FUNCTION tenantgate.monthly_usage(uuid, date) OWNER TO tenantgate_resolver;
REVOKE CREATE ON SCHEMA tenantgate FROM tenantgate_resolver;

REVOKE ALL ON FUNCTION
    tenantgate.effective_limits(uuid), tenantgate.record_usage(jsonb), tenantgate.monthly_usage(uuid, date)
FROM PUBLIC;
-- (0007 takes these back from tenantgate_app and grants them to the gateway's directory role.)
GRANT EXECUTE ON FUNCTION
    tenantgate.effective_limits(uuid), tenantgate.record_usage(jsonb), tenantgate.monthly_usage(uuid, date)
TO tenantgate_app;

DO $$
BEGIN
    PERFORM tenantgate_private.assert_tenant_isolation('tenantgate');
END
$$;
