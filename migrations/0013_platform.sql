-- 0013_platform.sql: platform administration over HTTP (issue 16): the tenant lifecycle, usage, export and
-- break-glass access, for platform admins on the apex, through functions that verify the context themselves.
--
-- tenantgate:scope control
--   Apply once, to the control-plane database, after 0012, inside one transaction, as a superuser (it creates
--   the role tenantgate_platform, NOLOGIN BYPASSRLS, which owns the functions below).
--
-- Who is a platform admin: the gateway decides (a bearer token from an issuer configured with a platform-roles
-- claim, holding platform_admin) and signs a context holding the permission platform.admin; the gateway drops
-- every platform.* permission a tenant's token or session names. Postgres verifies that context (0009/0012), so
-- a backend running arbitrary SQL as tenantgate_app, holding any tenant's context, can call none of these.
--
-- For tenantgate_app, each refusing TG403 'platform_admin_required|...' without platform.admin in the context;
-- (T) acts on the context's tenant (the gateway signs the context for the tenant named in the path) and refuses
-- the nil tenant (00000000-0000-0000-0000-000000000000, the platform context naming no tenant):
--   platform_tenants(query, status, after, limit)                 list and search, with usage
--   (T) platform_tenant()                                          one tenant, the same row
--   (T) platform_lifecycle(action, reason, grace_days, client)     suspend | reactivate | delete | restore
--   (T) platform_break_glass_grant(reason, write, minutes, label, client)
--   (T) platform_break_glass_list()
--   (T) platform_break_glass_revoke(id, client)
--   (T) platform_export_control(client)                            the tenant's control-plane rows, audited
-- For tenantgate_directory (the gateway), on a tenant host, for a platform admin's token:
--   break_glass_access(tenant, admin, label, method, path, request_id, client)
--     the admin's active grant on that tenant (read-only or not, the permissions it confers), and one
--     platform.break_glass.access row in the tenant's audit log for this request; no row without a grant.
--
-- Break-glass grants (tenantgate.break_glass_grants) are tenant-scoped under the usual policy: a tenant's
-- backends read its own grants (who, why, until when); only these functions write them. Every grant, revocation
-- and access is in the tenant's own audit log, actor kind platform_admin, where its owners see it.
--
-- Audit actor: 0007's trigger now also names actor kind platform_admin when the verified context holds
-- platform.admin or platform.break_glass (a platform admin acting inside a tenant through the organisation
-- functions), and writes rows as stated when the inserting role is tenantgate_platform (these functions, which
-- state the actor from the verified context, or from the gateway for break_glass_access). org_audit() stops
-- stating the kind itself and lets the trigger decide.

SET LOCAL client_min_messages = warning;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'tenantgate_platform') THEN
        BEGIN
            CREATE ROLE tenantgate_platform NOLOGIN BYPASSRLS;
        EXCEPTION WHEN duplicate_object THEN
            NULL; -- created meanwhile by a runner migrating another database of the same cluster
        END;
    END IF;
END
$$;
-- The owner hands the functions below to it (ALTER FUNCTION ... OWNER needs membership).
GRANT tenantgate_platform TO tenantgate_owner;

SET LOCAL ROLE tenantgate_owner;

DO $$
BEGIN
    IF current_user <> 'tenantgate_owner' THEN
        RAISE EXCEPTION 'apply this file inside one transaction (SET LOCAL ROLE tenantgate_owner had no effect)';
    END IF;
    IF pg_catalog.to_regclass('tenantgate.switch_tickets') IS NULL THEN
        RAISE EXCEPTION 'apply 0011_invitation_login_and_switching.sql to this database first';
    END IF;
END
$$;

-- Break-glass grants (tenant-scoped) ---------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS tenantgate.break_glass_grants (
    tenant_id   uuid        NOT NULL,
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    admin_id    uuid        NOT NULL,
    admin_label text        NOT NULL,
    reason      text        NOT NULL,
    read_only   boolean     NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    CONSTRAINT break_glass_grants_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT break_glass_grants_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenantgate.tenants (id)
        ON DELETE CASCADE,
    CONSTRAINT break_glass_grants_reason_present CHECK (char_length(btrim(reason)) BETWEEN 3 AND 500),
    CONSTRAINT break_glass_grants_label_length CHECK (char_length(admin_label) BETWEEN 1 AND 320),
    CONSTRAINT break_glass_grants_expiry CHECK (expires_at > created_at)
);
COMMENT ON TABLE tenantgate.break_glass_grants IS
    'tenant-scoped: platform admins'' time-limited access to one tenant (reason, read-only unless stated); written '
    'only by the platform functions of 0013, readable by the tenant.';
CREATE INDEX IF NOT EXISTS break_glass_grants_tenant_admin_idx
    ON tenantgate.break_glass_grants (tenant_id, admin_id, expires_at);
ALTER TABLE tenantgate.break_glass_grants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenantgate.break_glass_grants FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON tenantgate.break_glass_grants;
CREATE POLICY tenant_isolation ON tenantgate.break_glass_grants FOR ALL TO tenantgate_app
    USING (tenant_id = (SELECT tenantgate.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT tenantgate.current_tenant_id()));
REVOKE ALL ON TABLE tenantgate.break_glass_grants FROM PUBLIC, tenantgate_app, tenantgate_directory;
GRANT SELECT ON TABLE tenantgate.break_glass_grants TO tenantgate_app;

-- What the functions' owner may touch --------------------------------------------------------------------------------

GRANT USAGE ON SCHEMA tenantgate TO tenantgate_platform;
GRANT SELECT ON TABLE tenantgate.tenants, tenantgate.tenant_placements, tenantgate.plans, tenantgate.tenant_limits,
    tenantgate.usage_daily, tenantgate.memberships, tenantgate.users, tenantgate.tenant_domains, tenantgate.roles,
    tenantgate.role_permissions, tenantgate.invitations, tenantgate.permissions
    TO tenantgate_platform;
GRANT UPDATE (status, suspended_at, deleted_at, purge_after, updated_at) ON TABLE tenantgate.tenants
    TO tenantgate_platform;
GRANT SELECT, INSERT ON TABLE tenantgate.audit_log TO tenantgate_platform;
GRANT SELECT, INSERT ON TABLE tenantgate.break_glass_grants TO tenantgate_platform;
GRANT UPDATE (revoked_at) ON TABLE tenantgate.break_glass_grants TO tenantgate_platform;
GRANT SELECT ON TABLE tenantgate.context_v2, tenantgate.context_tenant TO tenantgate_platform;
GRANT EXECUTE ON FUNCTION tenantgate.current_tenant_id(), tenantgate.current_user_id(),
    tenantgate.current_request_id(), tenantgate.current_permissions(), tenantgate.has_permission(text)
    TO tenantgate_platform;

-- The audit actor (replaces 0007's trigger function) ------------------------------------------------------------------

CREATE OR REPLACE FUNCTION tenantgate.audit_log_actor_from_context()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    uid  uuid;
    kind text;
    rid  text;
BEGIN
    -- The platform writes what it states: a superuser session (control-plane commands), or the platform
    -- functions of 0013 (owned by tenantgate_platform; they state the actor from the verified context, or, for
    -- break_glass_access, from the gateway that verified the admin's token).
    IF coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = session_user), false)
       OR current_user = 'tenantgate_platform' THEN
        RETURN NEW;
    END IF;
    uid  := tenantgate.current_user_id();
    kind := CASE WHEN tenantgate.has_permission('platform.admin') OR tenantgate.has_permission('platform.break_glass')
                 THEN 'platform_admin'
                 WHEN uid IS NULL THEN 'system'
                 ELSE 'user' END;
    rid  := tenantgate.current_request_id();
    IF (NEW.actor_kind IS NOT NULL AND NEW.actor_kind IS DISTINCT FROM kind)
       OR (NEW.actor_user_id IS NOT NULL AND NEW.actor_user_id IS DISTINCT FROM uid)
       OR (NEW.request_id IS NOT NULL AND NEW.request_id IS DISTINCT FROM rid) THEN
        RAISE EXCEPTION 'audit actor and request come from the tenant context (%, %, %)', kind, uid, rid
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    NEW.actor_kind    := kind;
    NEW.actor_user_id := uid;
    NEW.request_id    := rid;
    RETURN NEW;
END
$$;

-- org_audit (owned by tenantgate_members, 0010): the trigger names the actor kind (user, system, or platform_admin
-- for break-glass), so the function no longer states it.
GRANT CREATE ON SCHEMA tenantgate TO tenantgate_members;
SET LOCAL ROLE tenantgate_members;
CREATE OR REPLACE FUNCTION tenantgate.org_audit(p_tenant uuid, p_action text, p_target text, p_before jsonb,
                                                p_after jsonb, p_client_addr inet)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO tenantgate.audit_log (tenant_id, action, target, before_state, after_state, client_addr)
    VALUES (p_tenant, p_action, p_target, p_before, p_after, p_client_addr)
$$;
GRANT EXECUTE ON FUNCTION tenantgate.org_refuse(text, text, text) TO tenantgate_platform;
SET LOCAL ROLE tenantgate_owner;
REVOKE CREATE ON SCHEMA tenantgate FROM tenantgate_members;

-- Internal helpers -----------------------------------------------------------------------------------------------------

-- platform_admin(): refuses unless the verified context holds platform.admin; returns the context's tenant (the
-- nil uuid for the platform context).
CREATE OR REPLACE FUNCTION tenantgate.platform_admin()
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT tenantgate.has_permission('platform.admin') THEN
        PERFORM tenantgate.org_refuse('TG403', 'platform_admin_required', 'this needs a platform admin');
    END IF;
    RETURN tenantgate.current_tenant_id();
END
$$;

-- platform_target(): platform_admin(), and the context must name a tenant.
CREATE OR REPLACE FUNCTION tenantgate.platform_target()
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tid uuid := tenantgate.platform_admin();
BEGIN
    IF tid IS NULL OR tid = '00000000-0000-0000-0000-000000000000'::uuid
       OR NOT EXISTS (SELECT 1 FROM tenantgate.tenants AS t WHERE t.id = tid) THEN
        PERFORM tenantgate.org_refuse('TG400', 'tenant_required', 'name a tenant: /api/platform/tenants/{slug}/...');
    END IF;
    RETURN tid;
END
$$;

-- platform_audit(tenant, action, target, detail, before, after, client): one row in the tenant's log, the actor
-- from the verified context.
CREATE OR REPLACE FUNCTION tenantgate.platform_audit(p_tenant uuid, p_action text, p_target text, p_detail jsonb,
                                                     p_before jsonb, p_after jsonb, p_client_addr inet)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO tenantgate.audit_log (tenant_id, actor_kind, actor_user_id, action, target, detail, request_id,
                                      before_state, after_state, client_addr)
    VALUES (p_tenant, 'platform_admin', tenantgate.current_user_id(), p_action, p_target,
            coalesce(p_detail, '{}'::jsonb), tenantgate.current_request_id(), p_before, p_after, p_client_addr)
$$;

-- The tenant as the platform sees it ---------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION tenantgate.platform_rows(p_ids uuid[])
RETURNS TABLE (id uuid, slug text, name text, status text, plan text, placement text, database_target text,
               schema_name text, created_at timestamptz, suspended_at timestamptz, deleted_at timestamptz,
               purge_after timestamptz, members bigint, requests_today bigint, requests_month bigint,
               monthly_quota bigint)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.id, t.slug, t.name, t.status, t.plan, coalesce(pl.placement, 'shared'), pl.database_target,
           pl.schema_name, t.created_at, t.suspended_at, t.deleted_at, t.purge_after,
           (SELECT count(*) FROM tenantgate.memberships AS m WHERE m.tenant_id = t.id),
           (SELECT coalesce(sum(u.requests), 0)::bigint FROM tenantgate.usage_daily AS u
             WHERE u.tenant_id = t.id AND u.day = (statement_timestamp() AT TIME ZONE 'UTC')::date),
           (SELECT coalesce(sum(u.requests), 0)::bigint FROM tenantgate.usage_daily AS u
             WHERE u.tenant_id = t.id AND u.audience = 'user' AND u.status_family <> '429'
               AND u.day >= date_trunc('month', statement_timestamp() AT TIME ZONE 'UTC')::date),
           (jsonb_strip_nulls(p.limits || coalesce(o.limits, '{}'::jsonb)) ->> 'monthly_requests')::bigint
      FROM unnest(p_ids) WITH ORDINALITY AS w (id, n)
      JOIN tenantgate.tenants AS t ON t.id = w.id
      LEFT JOIN tenantgate.tenant_placements AS pl ON pl.tenant_id = t.id
      JOIN tenantgate.plans AS p ON p.id = t.plan
      LEFT JOIN tenantgate.tenant_limits AS o ON o.tenant_id = t.id
     ORDER BY w.n
$$;

CREATE OR REPLACE FUNCTION tenantgate.platform_tenants(p_query text, p_status text, p_after text, p_limit integer)
RETURNS TABLE (id uuid, slug text, name text, status text, plan text, placement text, database_target text,
               schema_name text, created_at timestamptz, suspended_at timestamptz, deleted_at timestamptz,
               purge_after timestamptz, members bigint, requests_today bigint, requests_month bigint,
               monthly_quota bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    q    text := nullif(btrim(coalesce(p_query, '')), '');
    page integer := least(greatest(coalesce(p_limit, 50), 1), 200);
    ids  uuid[];
BEGIN
    PERFORM tenantgate.platform_admin();
    IF p_status IS NOT NULL AND p_status NOT IN ('active', 'suspended', 'deleted') THEN
        PERFORM tenantgate.org_refuse('TG400', 'invalid_status', 'status is active, suspended or deleted');
    END IF;
    IF q IS NOT NULL AND char_length(q) > 200 THEN
        PERFORM tenantgate.org_refuse('TG400', 'invalid_query', 'the search is at most 200 characters');
    END IF;
    SELECT array_agg(x.id ORDER BY x.slug) INTO ids
      FROM (SELECT t.id, t.slug FROM tenantgate.tenants AS t
             WHERE (p_status IS NULL OR t.status = p_status)
               AND (p_after IS NULL OR t.slug > p_after)
               AND (q IS NULL OR strpos(lower(t.slug), lower(q)) > 0 OR strpos(lower(t.name), lower(q)) > 0)
             ORDER BY t.slug
             LIMIT page) AS x;
    RETURN QUERY SELECT * FROM tenantgate.platform_rows(coalesce(ids, '{}'));
END
$$;

CREATE OR REPLACE FUNCTION tenantgate.platform_tenant()
RETURNS TABLE (id uuid, slug text, name text, status text, plan text, placement text, database_target text,
               schema_name text, created_at timestamptz, suspended_at timestamptz, deleted_at timestamptz,
               purge_after timestamptz, members bigint, requests_today bigint, requests_month bigint,
               monthly_quota bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 1
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY SELECT * FROM tenantgate.platform_rows(ARRAY[tenantgate.platform_target()]);
END
$$;

-- Lifecycle (the rules of `tenantgate tenant suspend|reactivate|delete|restore`) -----------------------------------

CREATE OR REPLACE FUNCTION tenantgate.platform_lifecycle(p_action text, p_reason text, p_grace_days integer,
                                                         p_client_addr inet)
RETURNS TABLE (id uuid, slug text, name text, status text, plan text, placement text, database_target text,
               schema_name text, created_at timestamptz, suspended_at timestamptz, deleted_at timestamptz,
               purge_after timestamptz, members bigint, requests_today bigint, requests_month bigint,
               monthly_quota bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tid    uuid := tenantgate.platform_target();
    t      tenantgate.tenants%ROWTYPE;
    days   integer := coalesce(p_grace_days, 30);
    reason text := nullif(btrim(coalesce(p_reason, '')), '');
    detail jsonb;
    action text;
BEGIN
    SELECT * INTO t FROM tenantgate.tenants AS x WHERE x.id = tid FOR UPDATE;
    IF reason IS NOT NULL AND char_length(reason) > 500 THEN
        PERFORM tenantgate.org_refuse('TG400', 'invalid_request', 'the reason is at most 500 characters');
    END IF;
    CASE p_action
    WHEN 'suspend' THEN
        IF t.status <> 'active' THEN
            PERFORM tenantgate.org_refuse('TG409', 'wrong_status',
                'only an active tenant can be suspended; ' || t.slug || ' is ' || t.status);
        END IF;
        UPDATE tenantgate.tenants AS x SET status = 'suspended', suspended_at = now(), updated_at = now()
         WHERE x.id = tid;
        action := 'tenant.suspended';
        detail := jsonb_build_object('slug', t.slug, 'reason', reason, 'via', 'api');
    WHEN 'reactivate' THEN
        IF t.status <> 'suspended' THEN
            PERFORM tenantgate.org_refuse('TG409', 'wrong_status',
                'only a suspended tenant can be reactivated; ' || t.slug || ' is ' || t.status);
        END IF;
        UPDATE tenantgate.tenants AS x SET status = 'active', suspended_at = NULL, updated_at = now() WHERE x.id = tid;
        action := 'tenant.reactivated';
        detail := jsonb_build_object('slug', t.slug, 'reason', reason, 'via', 'api');
    WHEN 'delete' THEN
        IF days NOT BETWEEN 1 AND 365 THEN
            PERFORM tenantgate.org_refuse('TG400', 'invalid_grace_days', 'the grace period is 1 to 365 days');
        END IF;
        IF t.status NOT IN ('active', 'suspended') THEN
            PERFORM tenantgate.org_refuse('TG409', 'wrong_status',
                'only an active or suspended tenant can be deleted; ' || t.slug || ' is ' || t.status);
        END IF;
        UPDATE tenantgate.tenants AS x SET status = 'deleted', deleted_at = now(),
               purge_after = now() + make_interval(days => days), updated_at = now()
         WHERE x.id = tid;
        action := 'tenant.deleted';
        detail := jsonb_build_object('slug', t.slug, 'from', t.status, 'grace_days', days, 'reason', reason,
                                     'via', 'api');
    WHEN 'restore' THEN
        IF t.status <> 'deleted' THEN
            PERFORM tenantgate.org_refuse('TG409', 'wrong_status',
                'only a deleted tenant can be restored; ' || t.slug || ' is ' || t.status);
        END IF;
        IF t.purge_after <= now() THEN
            PERFORM tenantgate.org_refuse('TG409', 'grace_period_over',
                'the grace period of ' || t.slug || ' ended at ' || t.purge_after || '; it can no longer be restored');
        END IF;
        -- A tenant deleted while suspended keeps its suspended_at, and comes back suspended.
        UPDATE tenantgate.tenants AS x
           SET status = CASE WHEN x.suspended_at IS NULL THEN 'active' ELSE 'suspended' END,
               deleted_at = NULL, purge_after = NULL, updated_at = now()
         WHERE x.id = tid;
        action := 'tenant.restored';
        detail := jsonb_build_object('slug', t.slug, 'reason', reason, 'via', 'api');
    ELSE
        PERFORM tenantgate.org_refuse('TG400', 'invalid_action', 'the action is suspend, reactivate, delete or restore');
    END CASE;
    PERFORM tenantgate.platform_audit(tid, action, tid::text, jsonb_strip_nulls(detail),
        jsonb_build_object('status', t.status),
        (SELECT jsonb_build_object('status', x.status) FROM tenantgate.tenants AS x WHERE x.id = tid),
        p_client_addr);
    RETURN QUERY SELECT * FROM tenantgate.platform_rows(ARRAY[tid]);
END
$$;

-- Break-glass ----------------------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION tenantgate.platform_break_glass_grant(p_reason text, p_write boolean, p_minutes integer,
                                                                 p_label text, p_client_addr inet)
RETURNS TABLE (id uuid, expires_at timestamptz, read_only boolean)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tid     uuid := tenantgate.platform_target();
    admin   uuid := tenantgate.current_user_id();
    reason  text := btrim(coalesce(p_reason, ''));
    minutes integer := coalesce(p_minutes, 15);
    label   text := left(coalesce(nullif(btrim(coalesce(p_label, '')), ''), admin::text), 320);
    g       tenantgate.break_glass_grants%ROWTYPE;
BEGIN
    IF admin IS NULL THEN
        PERFORM tenantgate.org_refuse('TG403', 'platform_admin_required', 'the context names no admin');
    END IF;
    IF char_length(reason) NOT BETWEEN 3 AND 500 THEN
        PERFORM tenantgate.org_refuse('TG400', 'reason_required',
            'break-glass access needs a reason (3 to 500 characters)');
    END IF;
    IF minutes NOT BETWEEN 1 AND 240 THEN
        PERFORM tenantgate.org_refuse('TG400', 'invalid_minutes', 'break-glass access lasts 1 to 240 minutes');
    END IF;
    IF (SELECT t.status FROM tenantgate.tenants AS t WHERE t.id = tid) <> 'active' THEN
        PERFORM tenantgate.org_refuse('TG409', 'wrong_status', 'break-glass access is for active tenants');
    END IF;
    INSERT INTO tenantgate.break_glass_grants AS b (tenant_id, admin_id, admin_label, reason, read_only, expires_at)
    VALUES (tid, admin, label, reason, NOT coalesce(p_write, false), now() + make_interval(mins => minutes))
    RETURNING * INTO g;
    PERFORM tenantgate.platform_audit(tid, 'platform.break_glass.granted', g.id::text,
        jsonb_build_object('admin', label, 'reason', reason, 'read_only', g.read_only, 'minutes', minutes),
        NULL,
        jsonb_build_object('id', g.id, 'admin', label, 'read_only', g.read_only, 'expires_at', g.expires_at),
        p_client_addr);
    RETURN QUERY SELECT g.id, g.expires_at, g.read_only;
END
$$;

CREATE OR REPLACE FUNCTION tenantgate.platform_break_glass_list()
RETURNS TABLE (id uuid, admin_id uuid, admin_label text, reason text, read_only boolean, created_at timestamptz,
               expires_at timestamptz, revoked_at timestamptz, active boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tid uuid := tenantgate.platform_target();
BEGIN
    RETURN QUERY
    SELECT g.id, g.admin_id, g.admin_label, g.reason, g.read_only, g.created_at, g.expires_at, g.revoked_at,
           g.revoked_at IS NULL AND g.expires_at > now()
      FROM tenantgate.break_glass_grants AS g
     WHERE g.tenant_id = tid
     ORDER BY g.created_at DESC, g.id;
END
$$;

CREATE OR REPLACE FUNCTION tenantgate.platform_break_glass_revoke(p_id uuid, p_client_addr inet)
RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tid uuid := tenantgate.platform_target();
    g   tenantgate.break_glass_grants%ROWTYPE;
BEGIN
    UPDATE tenantgate.break_glass_grants AS b SET revoked_at = now()
     WHERE b.tenant_id = tid AND b.id = p_id AND b.revoked_at IS NULL
    RETURNING * INTO g;
    IF g.id IS NULL THEN
        PERFORM tenantgate.org_refuse('TG404', 'not_found', 'no such active break-glass grant');
    END IF;
    PERFORM tenantgate.platform_audit(tid, 'platform.break_glass.revoked', g.id::text,
        jsonb_build_object('admin', g.admin_label), jsonb_build_object('id', g.id, 'expires_at', g.expires_at),
        jsonb_build_object('id', g.id, 'revoked_at', g.revoked_at), p_client_addr);
    RETURN g.id;
END
$$;

-- break_glass_access: the gateway's check on a tenant host, one audit row per access.
CREATE OR REPLACE FUNCTION tenantgate.break_glass_access(p_tenant uuid, p_admin uuid, p_label text, p_method text,
                                                         p_path text, p_request_id text, p_client_addr inet)
RETURNS TABLE (grant_id uuid, read_only boolean, permissions text[], expires_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g     tenantgate.break_glass_grants%ROWTYPE;
    perms text[];
BEGIN
    SELECT * INTO g FROM tenantgate.break_glass_grants AS b
     WHERE b.tenant_id = p_tenant AND b.admin_id = p_admin AND b.revoked_at IS NULL AND b.expires_at > now()
     ORDER BY b.read_only, b.expires_at DESC
     LIMIT 1;
    IF g.id IS NULL THEN
        RETURN;
    END IF;
    SELECT coalesce(array_agg(p.permission ORDER BY p.permission), '{}') INTO perms
      FROM tenantgate.permissions AS p
     WHERE NOT g.read_only OR p.permission LIKE '%.read';
    INSERT INTO tenantgate.audit_log (tenant_id, actor_kind, actor_user_id, action, target, detail, request_id,
                                      client_addr)
    VALUES (p_tenant, 'platform_admin', p_admin, 'platform.break_glass.access',
            left(coalesce(p_method, '') || ' ' || coalesce(p_path, ''), 500),
            jsonb_build_object('grant', g.id, 'admin', left(coalesce(p_label, ''), 320), 'reason', g.reason,
                               'read_only', g.read_only),
            left(p_request_id, 200), p_client_addr);
    RETURN QUERY SELECT g.id, g.read_only, perms || ARRAY['platform.break_glass'], g.expires_at;
END
$$;

-- Export (the control-plane part of `tenantgate tenant export`) ------------------------------------------------------

CREATE OR REPLACE FUNCTION tenantgate.platform_export_control(p_client_addr inet)
RETURNS TABLE (file text, "row" jsonb)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tid uuid := tenantgate.platform_target();
BEGIN
    PERFORM tenantgate.platform_audit(tid, 'tenant.exported', tid::text, jsonb_build_object('via', 'api'),
                                      NULL, NULL, p_client_addr);
    RETURN QUERY
    SELECT 'domains', to_jsonb(d) FROM (
        SELECT x.domain, x.verification_token, x.created_at, x.verified_at, x.revoked_at
          FROM tenantgate.tenant_domains AS x WHERE x.tenant_id = tid ORDER BY x.domain) AS d;
    RETURN QUERY
    SELECT 'roles', to_jsonb(r) FROM (
        SELECT r0.name, r0.built_in, r0.description,
               coalesce((SELECT array_agg(p.permission ORDER BY p.permission) FROM tenantgate.role_permissions AS p
                          WHERE p.tenant_id = r0.tenant_id AND p.role_name = r0.name), '{}') AS permissions
          FROM tenantgate.roles AS r0 WHERE r0.tenant_id = tid ORDER BY r0.name) AS r;
    RETURN QUERY
    SELECT 'members', to_jsonb(m) FROM (
        SELECT u.id AS user_id, u.email, u.display_name, m0.role_name, m0.created_at
          FROM tenantgate.memberships AS m0 JOIN tenantgate.users AS u ON u.id = m0.user_id
         WHERE m0.tenant_id = tid ORDER BY u.email) AS m;
    RETURN QUERY
    SELECT 'invitations', to_jsonb(i) FROM (
        SELECT x.id, x.email, x.role_name, x.invited_by_user_id, x.created_at, x.expires_at, x.accepted_at,
               x.revoked_at
          FROM tenantgate.invitations AS x WHERE x.tenant_id = tid ORDER BY x.created_at, x.id) AS i;
    RETURN QUERY
    SELECT 'audit_log', to_jsonb(a) FROM (
        SELECT x.event_id, x.created_at, x.actor_kind, x.actor_user_id, x.action, x.target, x.detail,
               x.before_state, x.after_state, x.client_addr, x.request_id
          FROM tenantgate.audit_log AS x WHERE x.tenant_id = tid ORDER BY x.created_at, x.id) AS a;
END
$$;

-- Ownership and rights ---------------------------------------------------------------------------------------------------

GRANT CREATE ON SCHEMA tenantgate TO tenantgate_platform;
ALTER FUNCTION tenantgate.platform_admin() OWNER TO tenantgate_platform;
ALTER FUNCTION tenantgate.platform_target() OWNER TO tenantgate_platform;
ALTER FUNCTION tenantgate.platform_audit(uuid, text, text, jsonb, jsonb, jsonb, inet) OWNER TO tenantgate_platform;
ALTER FUNCTION tenantgate.platform_rows(uuid[]) OWNER TO tenantgate_platform;
ALTER FUNCTION tenantgate.platform_tenants(text, text, text, integer) OWNER TO tenantgate_platform;
ALTER FUNCTION tenantgate.platform_tenant() OWNER TO tenantgate_platform;
ALTER FUNCTION tenantgate.platform_lifecycle(text, text, integer, inet) OWNER TO tenantgate_platform;
ALTER FUNCTION tenantgate.platform_break_glass_grant(text, boolean, integer, text, inet) OWNER TO tenantgate_platform;
ALTER FUNCTION tenantgate.platform_break_glass_list() OWNER TO tenantgate_platform;
ALTER FUNCTION tenantgate.platform_break_glass_revoke(uuid, inet) OWNER TO tenantgate_platform;
ALTER FUNCTION tenantgate.break_glass_access(uuid, uuid, text, text, text, text, inet) OWNER TO tenantgate_platform;
ALTER FUNCTION tenantgate.platform_export_control(inet) OWNER TO tenantgate_platform;
REVOKE CREATE ON SCHEMA tenantgate FROM tenantgate_platform;

REVOKE ALL ON FUNCTION
    tenantgate.platform_admin(),
    tenantgate.platform_target(),
    tenantgate.platform_audit(uuid, text, text, jsonb, jsonb, jsonb, inet),
    tenantgate.platform_rows(uuid[]),
    tenantgate.platform_tenants(text, text, text, integer),
    tenantgate.platform_tenant(),
    tenantgate.platform_lifecycle(text, text, integer, inet),
    tenantgate.platform_break_glass_grant(text, boolean, integer, text, inet),
    tenantgate.platform_break_glass_list(),
    tenantgate.platform_break_glass_revoke(uuid, inet),
    tenantgate.break_glass_access(uuid, uuid, text, text, text, text, inet),
    tenantgate.platform_export_control(inet)
FROM PUBLIC, tenantgate_app, tenantgate_directory, tenantgate_members;
GRANT EXECUTE ON FUNCTION
    tenantgate.platform_tenants(text, text, text, integer),
    tenantgate.platform_tenant(),
    tenantgate.platform_lifecycle(text, text, integer, inet),
    tenantgate.platform_break_glass_grant(text, boolean, integer, text, inet),
    tenantgate.platform_break_glass_list(),
    tenantgate.platform_break_glass_revoke(uuid, inet),
    tenantgate.platform_export_control(inet)
TO tenantgate_app;
GRANT EXECUTE ON FUNCTION tenantgate.break_glass_access(uuid, uuid, text, text, text, text, inet)
TO tenantgate_directory;

DO $$
BEGIN
    PERFORM tenantgate_private.assert_tenant_isolation('tenantgate');
END
$$;
