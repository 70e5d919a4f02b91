-- 0014_context_format_and_sizes.sql: the database refuses every context the contract refuses for its version or
-- field count, and a malformed token never raises; sizes of other databases and relations are not readable by
-- the application roles (issue 22 item 5).
--
-- tenantgate:scope database
--   Apply to every database tenantgate uses, after 0012, inside one transaction, as a superuser (the runner's
--   connection): the REVOKEs below are on pg_catalog functions, like 0006's and 0012's.
--
-- 1. One context format. tenantgate.context_v2 (0009) and tenantgate.context_tenant (0012) never looked at the
--    first field, so a token a key holder signed as `v1~...`, `V2~...`, `v3~...` or `~...` (no version) verified
--    here while the contract (contract/src/context.rs, `split`) refuses it. Both views now also require:
--      starts_with(t, 'v2~')                 the version, exactly (case-sensitive, as the contract)
--      split_part(t, '~', 15) = ''           no 15th field. With the signature check, the token then has exactly
--                                            14 fields: a matching signature is 64 hex digits that are the last
--                                            64 bytes, after the 13th '~' (0009), so there is no empty 15th field
--                                            either. (The signature already made 13- and 15-field tokens fail;
--                                            the explicit check keeps that true whatever the signature does.)
--    And the signed prefix is substring(bytes, 1, greatest(octet_length - 64, 0)): 0009/0012 passed a negative
--    length for a token shorter than 64 bytes whose second field names a real key (`v2~k1~x`), which raised
--    SQLSTATE 22011 instead of yielding no row, contrary to 0009's comment. Now every unsigned or malformed
--    token yields no row: no tenant, the same way as a missing one. What still raises is unchanged (0009): a
--    token a key holder signed with a non-numeric exp or a non-uuid tid (the gateway's signer cannot make one).
--    Both checks are on the text the view already reads; their cost is in BENCHMARKS.md ("0014").
--    The WHERE clause is otherwise 0009's; the views keep their columns, owner and grants.
-- 2. Sizes. pg_database_size() and pg_tablespace_size() are revoked from PUBLIC: the application role holds
--    CONNECT on every tenantgate database (0006), so from any tenant's connection it could read the size of a
--    dedicated tenant's database (and of pg_default, the cluster's write volume). pg_relation_size(),
--    pg_table_size(), pg_indexes_size() and pg_total_relation_size() are revoked too: exact byte sizes of
--    another tenant's schema in this database. Granted back to pg_read_all_stats and pg_monitor (monitoring).
--    Not closed, and not closable by a migration (README, "What PostgreSQL cannot refuse"): in a database that
--    holds several tenants' tables (the shared placement, and schema placements in the same database), the
--    application role can still learn their approximate row counts and sizes from pg_class (reltuples,
--    relpages), from EXPLAIN's estimates (the planner scales reltuples by the relation's current size), and
--    exactly from EXPLAIN (ANALYZE)'s "Rows Removed by Filter". Only a placement in another database (dedicated)
--    keeps its size from SQL run on another tenant's connection.

SET LOCAL client_min_messages = warning;
SET LOCAL search_path = pg_catalog, pg_temp;

DO $$
BEGIN
    IF NOT coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user), false) THEN
        RAISE EXCEPTION '0014_context_format_and_sizes.sql must be applied by a superuser (pg_catalog rights)';
    END IF;
    IF pg_catalog.to_regclass('tenantgate.context_tenant') IS NULL THEN
        RAISE EXCEPTION 'apply 0012_context_tenant.sql to this database first';
    END IF;
END
$$;

-- Sizes (2) --------------------------------------------------------------------------------------------------------

DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc AS p
         WHERE p.pronamespace = 'pg_catalog'::regnamespace
           AND p.proname IN ('pg_database_size', 'pg_tablespace_size', 'pg_relation_size', 'pg_table_size',
                             'pg_indexes_size', 'pg_total_relation_size')
    LOOP
        EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO pg_read_all_stats, pg_monitor', f);
    END LOOP;
END
$$;

SET LOCAL ROLE tenantgate_owner;

DO $$
BEGIN
    IF current_user <> 'tenantgate_owner' THEN
        RAISE EXCEPTION 'apply this file inside one transaction (SET LOCAL ROLE tenantgate_owner had no effect)';
    END IF;
END
$$;

-- One context format (1) -------------------------------------------------------------------------------------------

-- Keep the two WHERE clauses identical (0009 explains each piece; the first two lines and greatest() are new).
CREATE OR REPLACE VIEW tenantgate.context_v2 WITH (security_barrier) AS
SELECT pg_catalog.split_part(c.t, '~', 4)::uuid                         AS tenant_id,
       nullif(pg_catalog.split_part(c.t, '~', 5), '')::uuid   AS user_id,
       pg_catalog.split_part(c.t, '~', 6)                               AS request_id,
       pg_catalog.split_part(c.t, '~', 7)                               AS placement,
       nullif(pg_catalog.split_part(c.t, '~', 8), '')         AS database_target,
       nullif(pg_catalog.split_part(c.t, '~', 9), '')         AS schema_name,
       pg_catalog.split_part(c.t, '~', 10)                              AS slug,
       pg_catalog.string_to_array(pg_catalog.split_part(c.t, '~', 11), ',') AS roles,
       pg_catalog.string_to_array(pg_catalog.split_part(c.t, '~', 12), ',') AS permissions,
       pg_catalog.split_part(c.t, '~', 13) = '1'                        AS read_only,
       pg_catalog.split_part(c.t, '~', 3)::bigint                       AS expires
  FROM (SELECT pg_catalog.current_setting('tenantgate.context', true) AS t) AS c
  JOIN tenantgate_private.context_keys AS k ON k.kid = pg_catalog.split_part(c.t, '~', 2)
 WHERE pg_catalog.starts_with(c.t, 'v2~')
   AND pg_catalog.split_part(c.t, '~', 15) = ''
   AND (k.retired_at IS NULL OR k.retired_at > pg_catalog.statement_timestamp())
   AND CASE WHEN pg_catalog.split_part(c.t, '~', 14)
                 = pg_catalog.encode(pg_catalog.sha256(k.opad || pg_catalog.sha256(
                       k.ipad || pg_catalog."substring"(pg_catalog.textsend(c.t), 1,
                                                        GREATEST(pg_catalog.octet_length(c.t) - 64, 0)))),
                                     'hex')
            THEN pg_catalog.split_part(c.t, '~', 3)::bigint > pg_catalog.date_part('epoch', pg_catalog.statement_timestamp())
            ELSE false
       END;

CREATE OR REPLACE VIEW tenantgate.context_tenant WITH (security_barrier) AS
SELECT pg_catalog.split_part(c.t, '~', 4)::uuid AS tenant_id
  FROM (SELECT pg_catalog.current_setting('tenantgate.context', true) AS t) AS c
  JOIN tenantgate_private.context_keys AS k ON k.kid = pg_catalog.split_part(c.t, '~', 2)
 WHERE pg_catalog.starts_with(c.t, 'v2~')
   AND pg_catalog.split_part(c.t, '~', 15) = ''
   AND (k.retired_at IS NULL OR k.retired_at > pg_catalog.statement_timestamp())
   AND CASE WHEN pg_catalog.split_part(c.t, '~', 14)
                 = pg_catalog.encode(pg_catalog.sha256(k.opad || pg_catalog.sha256(
                       k.ipad || pg_catalog."substring"(pg_catalog.textsend(c.t), 1,
                                                        GREATEST(pg_catalog.octet_length(c.t) - 64, 0)))),
                                     'hex')
            THEN pg_catalog.split_part(c.t, '~', 3)::bigint > pg_catalog.date_part('epoch', pg_catalog.statement_timestamp())
            ELSE false
       END;
