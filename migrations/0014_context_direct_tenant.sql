-- 0014_context_direct_tenant.sql: a tenant-data schema's policies read the verified context directly.
--
-- tenantgate:scope tenant
--   Apply to every tenant-data schema after 0003 (and 0012 on its database), with the schema alone on the
--   search_path, in one transaction, as 0003 is applied:
--       BEGIN; SET LOCAL search_path = tenant_acme; <this file>; COMMIT;
--
-- Every tenant policy of the schema still in 0003's form, `tenant_id = (SELECT tenantgate.current_tenant_id())`,
-- becomes `tenant_id = (SELECT tenant_id FROM tenantgate.context_tenant)` (0012 explains why). Names, commands,
-- roles and permissiveness are kept (ALTER POLICY); the file ends with the isolation self-check.

SET LOCAL client_min_messages = warning;

SET LOCAL ROLE tenantgate_owner;

DO $$
DECLARE
    target text := pg_catalog.current_setting('search_path');
BEGIN
    IF current_user <> 'tenantgate_owner' THEN
        RAISE EXCEPTION 'apply this file inside one transaction (SET LOCAL ROLE tenantgate_owner had no effect)';
    END IF;
    IF target !~ '^(app|tenant_[a-z0-9_]{1,56})$' THEN
        RAISE EXCEPTION 'search_path must name exactly one tenant-data schema (app or tenant_<slug>), not %', target;
    END IF;
    IF pg_catalog.to_regprocedure('tenantgate_private.use_direct_tenant_policies(name)') IS NULL THEN
        RAISE EXCEPTION 'apply 0012_context_direct.sql to this database first';
    END IF;
    PERFORM tenantgate_private.use_direct_tenant_policies(target::name);
END
$$;
