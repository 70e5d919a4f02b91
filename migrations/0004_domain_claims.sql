-- 0004_domain_claims.sql: a pending custom-domain claim no longer blocks anyone.
--
-- tenantgate:scope control
--   Apply once, to the control-plane database, after 0002, inside one transaction. Runs as tenantgate_owner.
--
-- 0002 made a domain unique among every row not revoked, pending ones included: a tenant that added
-- `portal.globex.com` and never proved control of it would keep globex from adding its own domain. A domain
-- is now unique among *verified* rows only (the ones that route, resolve_tenant_by_domain()); any number of
-- tenants may hold a pending claim, and whichever proves control first (`tenantgate domain verify`) owns it
-- until it is revoked.

SET LOCAL client_min_messages = warning;  -- no NOTICEs for the IF [NOT] EXISTS skips

SET LOCAL ROLE tenantgate_owner;

DO $$
BEGIN
    IF current_user <> 'tenantgate_owner' THEN
        RAISE EXCEPTION 'apply this file inside one transaction (SET LOCAL ROLE tenantgate_owner had no effect)';
    END IF;
    IF pg_catalog.to_regclass('tenantgate.tenant_domains') IS NULL THEN
        RAISE EXCEPTION 'apply 0002_control_plane.sql to this database first';
    END IF;
END
$$;

CREATE UNIQUE INDEX IF NOT EXISTS tenant_domains_domain_verified_key
    ON tenantgate.tenant_domains (domain) WHERE verified_at IS NOT NULL AND revoked_at IS NULL;
DROP INDEX IF EXISTS tenantgate.tenant_domains_domain_live_key;

DO $$
BEGIN
    PERFORM tenantgate_private.assert_tenant_isolation('tenantgate');
END
$$;
