-- 0012_context_direct.sql: tenant policies read the verified context directly (issue 12 item 5), and no
-- session's prepared statements are readable by the application role.
--
-- tenantgate:scope database
--   Apply to every database tenantgate uses, after 0009, inside one transaction, as a superuser (the
--   runner's connection): the REVOKEs below are on pg_catalog objects, like 0006's.
--
-- 1. tenantgate.context_tenant: the tenant id of the verified context, one row or none. The same security-barrier
--    view as tenantgate.context_v2 (0009), with the same key join and the same check, but only the tenant id in
--    its output: a security-barrier view is planned as a separate sub-query whose output expressions are all
--    evaluated, so context_v2's other ten columns cost about 2.5 µs per statement for nothing (BENCHMARKS.md,
--    "The in-database check").
--    The tenant policies now read it directly, `tenant_id = (SELECT tenant_id FROM tenantgate.context_tenant)`
--    (0013 for the control plane's tables, 0014 for every tenant-data schema): the sub-select is an InitPlan run
--    once per statement, inside the statement's own plan, instead of a plpgsql call that runs the view's plan
--    through SPI (about 4 µs per statement). Unsigned input still yields no row (never an error), so every
--    policy still matches nothing for a missing, forged, expired or retired-key context.
--    current_tenant_id() (column defaults, the audit trigger, the membership functions) reads the new view too.
-- 2. assert_tenant_isolation() accepts a tenant policy in either form (the 0002/0003 files create the old one;
--    0013/0014 rewrite it, and a new tenant schema passes through both), and nothing else.
-- 3. pg_prepared_statements and pg_prepared_statement() are revoked from PUBLIC: the host keeps its prepared
--    statements on a pooled connection from one request to the next (host/src/outbound_pg/cache.rs), and their
--    text (which statements, with which filters, earlier requests of other tenants ran) is no business of the
--    request that gets the connection next. Superusers and the owner of a session's statements are unaffected
--    (a session can still EXECUTE and DEALLOCATE its own; the host's filter refuses both from components).

SET LOCAL client_min_messages = warning;
SET LOCAL search_path = pg_catalog, pg_temp;

DO $$
BEGIN
    IF NOT coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user), false) THEN
        RAISE EXCEPTION '0012_context_direct.sql must be applied by a superuser (pg_catalog rights)';
    END IF;
    IF pg_catalog.to_regclass('tenantgate.context_v2') IS NULL THEN
        RAISE EXCEPTION 'apply 0009_context_v2.sql to this database first';
    END IF;
END
$$;

-- 3. Other requests' prepared statements --------------------------------------------------------------------------

REVOKE SELECT ON pg_catalog.pg_prepared_statements FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pg_catalog.pg_prepared_statement() FROM PUBLIC;

SET LOCAL ROLE tenantgate_owner;

DO $$
BEGIN
    IF current_user <> 'tenantgate_owner' THEN
        RAISE EXCEPTION 'apply this file inside one transaction (SET LOCAL ROLE tenantgate_owner had no effect)';
    END IF;
END
$$;

-- 1. The verified tenant, alone -----------------------------------------------------------------------------------

-- Keep the WHERE clause identical to tenantgate.context_v2's (0009 explains each piece).
CREATE OR REPLACE VIEW tenantgate.context_tenant WITH (security_barrier) AS
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
ALTER VIEW tenantgate.context_tenant OWNER TO tenantgate_owner;
COMMENT ON VIEW tenantgate.context_tenant IS
    'The tenant id of the transaction''s verified tenantgate.context token (v2), one row, or no row (as '
    'tenantgate.context_v2). Tenant policies read it: tenant_id = (SELECT tenant_id FROM tenantgate.context_tenant).';
REVOKE ALL ON TABLE tenantgate.context_tenant FROM PUBLIC;
GRANT SELECT ON TABLE tenantgate.context_tenant TO tenantgate_app, tenantgate_members;

CREATE OR REPLACE FUNCTION tenantgate.current_tenant_id()
RETURNS uuid
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN (SELECT c.tenant_id FROM tenantgate.context_tenant AS c);
END
$$;

-- 2. The isolation self-check accepts both policy forms -----------------------------------------------------------

CREATE OR REPLACE FUNCTION tenantgate_private.tenant_policy_forms()
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT ARRAY[
    -- 0012 on (0013, 0014): the view, read directly.
    E'(tenant_id = ( SELECT context_tenant.tenant_id\n   FROM tenantgate.context_tenant))',
    -- 0002/0003 as written: through current_tenant_id(); 0013/0014 rewrite it.
    '(tenant_id = ( SELECT tenantgate.current_tenant_id() AS current_tenant_id))'
]::text[]
$$;
COMMENT ON FUNCTION tenantgate_private.tenant_policy_forms() IS
    'The expressions (as pg_get_expr prints them) a tenant policy may have: USING and WITH CHECK, both the same.';
REVOKE ALL ON FUNCTION tenantgate_private.tenant_policy_forms() FROM PUBLIC;

CREATE OR REPLACE FUNCTION tenantgate_private.assert_tenant_isolation(target name)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    app      oid := (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = 'tenantgate_app');
    t        record;
    findings text[] := '{}';
BEGIN
    FOR t IN
        SELECT c.oid, c.relname, c.relrowsecurity, c.relforcerowsecurity, a.attnum
          FROM pg_catalog.pg_class AS c
          JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
          JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
         WHERE n.nspname = target AND c.relkind IN ('r', 'p')
    LOOP
        IF NOT (t.relrowsecurity AND t.relforcerowsecurity) THEN
            findings := findings || pg_catalog.format('%I.%I: RLS not enabled and forced', target, t.relname);
        END IF;
        IF (SELECT pg_catalog.count(*) FROM pg_catalog.pg_policy AS p WHERE p.polrelid = t.oid) <> 1
           OR NOT EXISTS (
               SELECT 1 FROM pg_catalog.pg_policy AS p
                WHERE p.polrelid = t.oid AND p.polcmd = '*' AND p.polpermissive
                  AND p.polroles = ARRAY[app]
                  AND pg_catalog.pg_get_expr(p.polqual, p.polrelid)
                      = pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid)
                  AND pg_catalog.pg_get_expr(p.polqual, p.polrelid)
                      = ANY (tenantgate_private.tenant_policy_forms())) THEN
            findings := findings || pg_catalog.format('%I.%I: not exactly one tenant policy', target, t.relname);
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index AS i WHERE i.indrelid = t.oid AND i.indkey[0] = t.attnum) THEN
            findings := findings || pg_catalog.format('%I.%I: no index led by tenant_id', target, t.relname);
        END IF;
        IF pg_catalog.has_table_privilege(app, t.oid, 'TRUNCATE')
           OR pg_catalog.has_table_privilege(app, t.oid, 'REFERENCES')
           OR pg_catalog.has_table_privilege(app, t.oid, 'TRIGGER') THEN
            findings := findings || pg_catalog.format('%I.%I: tenantgate_app holds TRUNCATE, REFERENCES or TRIGGER',
                                                      target, t.relname);
        END IF;
    END LOOP;
    IF pg_catalog.cardinality(findings) > 0 THEN
        RAISE EXCEPTION 'tenant isolation check failed: %', pg_catalog.array_to_string(findings, '; ');
    END IF;
END
$$;
REVOKE ALL ON FUNCTION tenantgate_private.assert_tenant_isolation(name) FROM PUBLIC;

-- use_direct_tenant_policies(schema): rewrites every tenant policy of `target` still in the old form to read
-- tenantgate.context_tenant directly (ALTER POLICY keeps its name, command, roles and permissiveness), then runs
-- the self-check. Used by 0013 (schema tenantgate) and 0014 (each tenant-data schema).
CREATE OR REPLACE FUNCTION tenantgate_private.use_direct_tenant_policies(target name)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p record;
BEGIN
    FOR p IN
        SELECT pol.polname, c.relname
          FROM pg_catalog.pg_policy AS pol
          JOIN pg_catalog.pg_class AS c ON c.oid = pol.polrelid
          JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
         WHERE n.nspname = target
           AND pg_catalog.pg_get_expr(pol.polqual, pol.polrelid)
               = '(tenant_id = ( SELECT tenantgate.current_tenant_id() AS current_tenant_id))'
           AND pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid)
               = '(tenant_id = ( SELECT tenantgate.current_tenant_id() AS current_tenant_id))'
    LOOP
        EXECUTE pg_catalog.format(
            'ALTER POLICY %I ON %I.%I USING (tenant_id = (SELECT tenant_id FROM tenantgate.context_tenant)) '
            'WITH CHECK (tenant_id = (SELECT tenant_id FROM tenantgate.context_tenant))',
            p.polname, target, p.relname);
    END LOOP;
    PERFORM tenantgate_private.assert_tenant_isolation(target);
END
$$;
REVOKE ALL ON FUNCTION tenantgate_private.use_direct_tenant_policies(name) FROM PUBLIC;
