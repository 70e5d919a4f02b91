-- 0012_context_tenant.sql: a cheaper verified tenant for the policies (issue 12 item 5), and no session's prepared
-- statements readable by the application role.
--
-- tenantgate:scope database
--   Apply to every database tenantgate uses, after 0009, inside one transaction, as a superuser (the
--   runner's connection): the REVOKEs below are on pg_catalog objects, like 0006's.
--
-- 1. tenantgate.context_tenant: the tenant id of the verified context, one row or none. The same security-barrier
--    view as tenantgate.context_v2 (0009), with the same key join and the same check, but only the tenant id in
--    its output: a security-barrier view is planned as a separate sub-query whose output expressions are all
--    evaluated, so context_v2's other ten columns cost a few microseconds per statement for nothing.
--    current_tenant_id(), which every tenant policy calls as (SELECT tenantgate.current_tenant_id()), and the
--    column defaults, the audit trigger and the membership functions with it, now reads this view. Unsigned
--    input still yields no row (never an error), so every policy still matches nothing for a missing, forged,
--    expired or retired-key context. The policies themselves are unchanged.
--    Not done: policies naming the view directly, `tenant_id = (SELECT tenant_id FROM tenantgate.context_tenant)`.
--    That saves the plpgsql call (about 4-8 µs) when the statement is prepared, but a statement that is parsed
--    and planned on every call (Spin, `--pg-statements any`, the control plane's own statements) then plans the
--    view's join and expressions each time: about twice the cost of a point get under the function
--    (BENCHMARKS.md, "The in-database check").
-- 2. pg_prepared_statements and pg_prepared_statement() are revoked from PUBLIC: the host keeps its prepared
--    statements on a pooled connection from one request to the next (host/src/outbound_pg/cache.rs), and their
--    text (which statements, with which filters, earlier requests of other tenants ran) is no business of the
--    request that gets the connection next. Superusers are unaffected, and a session can still EXECUTE and
--    DEALLOCATE its own statements (the host's filter refuses both from components).

SET LOCAL client_min_messages = warning;
SET LOCAL search_path = pg_catalog, pg_temp;

DO $$
BEGIN
    IF NOT coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user), false) THEN
        RAISE EXCEPTION '0012_context_tenant.sql must be applied by a superuser (pg_catalog rights)';
    END IF;
    IF pg_catalog.to_regclass('tenantgate.context_v2') IS NULL THEN
        RAISE EXCEPTION 'apply 0009_context_v2.sql to this database first';
    END IF;
END
$$;

-- Other requests' prepared statements (2) -------------------------------------------------------------------------

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

-- The verified tenant, alone (1) ---------------------------------------------------------------------------------

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
    'tenantgate.context_v2). current_tenant_id() reads it.';
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
