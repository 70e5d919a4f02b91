-- 0013_context_direct_control.sql: the control plane's tenant policies read the verified context directly.
--
-- tenantgate:scope control
--   Apply to the control-plane database after 0012 has been applied to it, in one transaction.
--
-- Every tenant policy of schema tenantgate still in the form 0002 (and the files after it) wrote,
-- `tenant_id = (SELECT tenantgate.current_tenant_id())`, becomes
-- `tenant_id = (SELECT tenant_id FROM tenantgate.context_tenant)`: the same verified tenant, read in the
-- statement's own plan instead of through a plpgsql call (0012 explains the cost). Names, commands, roles and
-- permissiveness are kept (ALTER POLICY); the file ends with the isolation self-check.

SET LOCAL client_min_messages = warning;
SET LOCAL search_path = pg_catalog, pg_temp;

SET LOCAL ROLE tenantgate_owner;

DO $$
BEGIN
    IF current_user <> 'tenantgate_owner' THEN
        RAISE EXCEPTION 'apply this file inside one transaction (SET LOCAL ROLE tenantgate_owner had no effect)';
    END IF;
    IF pg_catalog.to_regprocedure('tenantgate_private.use_direct_tenant_policies(name)') IS NULL THEN
        RAISE EXCEPTION 'apply 0012_context_direct.sql to this database first';
    END IF;
    PERFORM tenantgate_private.use_direct_tenant_policies('tenantgate');
END
$$;
