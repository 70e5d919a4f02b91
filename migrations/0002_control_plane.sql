-- 0002_control_plane.sql: the control plane (schema tenantgate).
--
-- tenantgate:scope control
--   Apply once, to the control-plane database, after 0001, inside one transaction. Runs as tenantgate_owner.
--
-- Two kinds of table, and every table says which in its COMMENT:
--   platform-scoped  no tenant_id column, no tenant data: plans, tenants, users, schema_migrations (and
--                    tenantgate_private.context_keys). The application role reads tenants only through the
--                    SECURITY DEFINER tenantgate.resolve_tenant_by_*() functions, users only under their own
--                    RLS policy (the context user and the members of the context tenant).
--   tenant-scoped    every table with a tenant_id column: RLS enabled and forced, one policy for
--                    tenantgate_app on tenant_id = (SELECT tenantgate.current_tenant_id()): tenant_placements
--                    (no grant to the app: read through resolve_tenant_by_*()), tenant_domains, roles,
--                    role_permissions, memberships, invitations, audit_log.
-- FORCE means the owner sees no tenant rows either (no policy names it). Platform operations on tenant rows
-- (tenant create/move/purge, platform audit events) run as a BYPASSRLS role: the migration superuser.

SET LOCAL client_min_messages = warning;  -- no NOTICEs for the IF [NOT] EXISTS skips

SET LOCAL ROLE tenantgate_owner;

DO $$
BEGIN
    IF current_user <> 'tenantgate_owner' THEN
        RAISE EXCEPTION 'apply this file inside one transaction (SET LOCAL ROLE tenantgate_owner had no effect)';
    END IF;
    IF pg_catalog.to_regprocedure('tenantgate.current_tenant_id()') IS NULL THEN
        RAISE EXCEPTION 'apply 0001_roles_and_keys.sql to this database first';
    END IF;
END
$$;

-- Platform-scoped ------------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS tenantgate.plans (
    id         text        NOT NULL,
    name       text        NOT NULL,
    limits     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT plans_pkey PRIMARY KEY (id),
    CONSTRAINT plans_id_format CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    CONSTRAINT plans_name_present CHECK (btrim(name) <> ''),
    CONSTRAINT plans_limits_object CHECK (jsonb_typeof(limits) = 'object')
);
COMMENT ON TABLE tenantgate.plans IS
    'platform-scoped: plans and their limits (rate, per-user rate, monthly quota); no tenant data.';

INSERT INTO tenantgate.plans (id, name, limits) VALUES
    ('free',       'Free',       '{"requests_per_minute": 600,   "user_requests_per_minute": 120,  "monthly_requests": 100000}'),
    ('pro',        'Pro',        '{"requests_per_minute": 6000,  "user_requests_per_minute": 600,  "monthly_requests": 5000000}'),
    ('enterprise', 'Enterprise', '{"requests_per_minute": 60000, "user_requests_per_minute": 3000, "monthly_requests": 100000000}')
ON CONFLICT (id) DO NOTHING;

CREATE TABLE IF NOT EXISTS tenantgate.tenants (
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    slug         text        NOT NULL,
    name         text        NOT NULL,
    status       text        NOT NULL DEFAULT 'active',
    plan         text        NOT NULL DEFAULT 'free',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    suspended_at timestamptz,
    deleted_at   timestamptz,
    purge_after  timestamptz,
    CONSTRAINT tenants_pkey PRIMARY KEY (id),
    CONSTRAINT tenants_slug_key UNIQUE (slug),
    CONSTRAINT tenants_plan_fkey FOREIGN KEY (plan) REFERENCES tenantgate.plans (id),
    CONSTRAINT tenants_slug_dns_label CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    CONSTRAINT tenants_slug_not_reserved CHECK (slug NOT IN ('www', 'api', 'admin', 'app', 'auth', 'login', 'sso',
                                                             'static', 'assets', 'status', 'mail')),
    CONSTRAINT tenants_name_present CHECK (btrim(name) <> '' AND char_length(name) <= 200),
    CONSTRAINT tenants_status_valid CHECK (status IN ('active', 'suspended', 'deleted')),
    CONSTRAINT tenants_suspended_has_time CHECK (status <> 'suspended' OR suspended_at IS NOT NULL),
    CONSTRAINT tenants_deleted_has_purge CHECK (status <> 'deleted' OR (deleted_at IS NOT NULL AND purge_after IS NOT NULL))
);
COMMENT ON TABLE tenantgate.tenants IS
    'platform-scoped: the tenant registry (one row per tenant; the row is the tenant, it holds no tenant data). '
    'tenantgate_app reads it only through tenantgate.resolve_tenant_by_*().';

CREATE TABLE IF NOT EXISTS tenantgate.tenant_placements (
    tenant_id       uuid        NOT NULL,
    placement       text        NOT NULL DEFAULT 'shared',
    database_target text,
    schema_name     text,
    read_only       boolean     NOT NULL DEFAULT false,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tenant_placements_pkey PRIMARY KEY (tenant_id),
    CONSTRAINT tenant_placements_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenantgate.tenants (id) ON DELETE CASCADE,
    CONSTRAINT tenant_placements_placement_valid CHECK (placement IN ('shared', 'schema', 'dedicated')),
    -- a connection target *name*, resolved by runtime configuration; never a URL or a credential
    CONSTRAINT tenant_placements_target_format CHECK (database_target IS NULL
                                                      OR database_target ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    CONSTRAINT tenant_placements_schema_format CHECK (schema_name IS NULL OR schema_name ~ '^tenant_[a-z0-9_]{1,56}$'),
    CONSTRAINT tenant_placements_fields CHECK (
           (placement = 'shared'    AND database_target IS NULL     AND schema_name IS NULL)
        OR (placement = 'schema'    AND schema_name IS NOT NULL)
        OR (placement = 'dedicated' AND database_target IS NOT NULL AND schema_name IS NULL))
);
COMMENT ON TABLE tenantgate.tenant_placements IS
    'tenant-scoped: routing table tenant -> placement. shared: schema app of the control-plane database; '
    'schema: schema_name in database_target (NULL = control-plane database); dedicated: schema app of '
    'database_target. read_only is set while a move copies the tenant.';
CREATE UNIQUE INDEX IF NOT EXISTS tenant_placements_schema_key
    ON tenantgate.tenant_placements (coalesce(database_target, ''), schema_name) WHERE schema_name IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS tenant_placements_dedicated_key
    ON tenantgate.tenant_placements (database_target) WHERE placement = 'dedicated';

CREATE TABLE IF NOT EXISTS tenantgate.users (
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    email        text        NOT NULL,
    display_name text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_email_lower CHECK (email = lower(email)),
    CONSTRAINT users_email_format CHECK (email ~ '^[^@\s]+@[^@\s]+$' AND char_length(email) <= 320)
);
COMMENT ON TABLE tenantgate.users IS
    'platform-scoped: global user identities (a user belongs to many tenants through memberships); no tenant '
    'data. tenantgate_app sees, under RLS, the context user and the members of the context tenant.';

CREATE TABLE IF NOT EXISTS tenantgate.schema_migrations (
    placement  text        NOT NULL,
    version    text        NOT NULL,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT schema_migrations_pkey PRIMARY KEY (placement, version),
    CONSTRAINT schema_migrations_placement_present CHECK (placement <> ''),
    CONSTRAINT schema_migrations_version_format CHECK (version ~ '^[0-9]{4}$'),
    CONSTRAINT schema_migrations_checksum_format CHECK (checksum ~ '^[0-9a-f]{64}$')
);
COMMENT ON TABLE tenantgate.schema_migrations IS
    'platform-scoped: which migration (version, sha256 of the file) ran where; placement names the target, '
    'e.g. control, shared, schema:<database_target or control>/tenant_x, dedicated:<database_target>.';

-- Tenant-scoped --------------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS tenantgate.tenant_domains (
    tenant_id          uuid        NOT NULL,
    domain             text        NOT NULL,
    verification_token text        NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    verified_at        timestamptz,
    revoked_at         timestamptz,
    CONSTRAINT tenant_domains_pkey PRIMARY KEY (tenant_id, domain),
    CONSTRAINT tenant_domains_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenantgate.tenants (id) ON DELETE CASCADE,
    -- normalised form: lower-case ASCII (IDNA A-labels), no trailing dot, no port
    CONSTRAINT tenant_domains_domain_format CHECK (char_length(domain) <= 253
        AND domain ~ '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    CONSTRAINT tenant_domains_token_present CHECK (char_length(verification_token) BETWEEN 16 AND 200)
);
COMMENT ON TABLE tenantgate.tenant_domains IS
    'tenant-scoped: custom domains; a domain routes only while verified_at IS NOT NULL AND revoked_at IS NULL.';
-- A live domain belongs to one tenant (deliberately global: the host names one tenant).
CREATE UNIQUE INDEX IF NOT EXISTS tenant_domains_domain_live_key
    ON tenantgate.tenant_domains (domain) WHERE revoked_at IS NULL;

CREATE TABLE IF NOT EXISTS tenantgate.roles (
    tenant_id   uuid        NOT NULL,
    name        text        NOT NULL,
    built_in    boolean     NOT NULL DEFAULT false,
    description text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT roles_pkey PRIMARY KEY (tenant_id, name),
    CONSTRAINT roles_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenantgate.tenants (id) ON DELETE CASCADE,
    CONSTRAINT roles_name_format CHECK (name ~ '^[a-z][a-z0-9_-]{0,62}$')
);
COMMENT ON TABLE tenantgate.roles IS
    'tenant-scoped: roles of a tenant; built-in admin and member (built_in = true) plus custom roles.';

CREATE TABLE IF NOT EXISTS tenantgate.role_permissions (
    tenant_id  uuid        NOT NULL,
    role_name  text        NOT NULL,
    permission text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT role_permissions_pkey PRIMARY KEY (tenant_id, role_name, permission),
    CONSTRAINT role_permissions_role_fkey FOREIGN KEY (tenant_id, role_name)
        REFERENCES tenantgate.roles (tenant_id, name) ON UPDATE CASCADE ON DELETE CASCADE,
    CONSTRAINT role_permissions_format CHECK (permission ~ '^[a-z][a-z0-9_]{0,62}\.[a-z][a-z0-9_]{0,62}$')
);
COMMENT ON TABLE tenantgate.role_permissions IS
    'tenant-scoped: permission set of each role, e.g. tasks.read, tasks.write.';

CREATE TABLE IF NOT EXISTS tenantgate.memberships (
    tenant_id  uuid        NOT NULL,
    user_id    uuid        NOT NULL,
    role_name  text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT memberships_pkey PRIMARY KEY (tenant_id, user_id),
    CONSTRAINT memberships_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenantgate.tenants (id) ON DELETE CASCADE,
    CONSTRAINT memberships_user_fkey FOREIGN KEY (user_id) REFERENCES tenantgate.users (id) ON DELETE CASCADE,
    CONSTRAINT memberships_role_fkey FOREIGN KEY (tenant_id, role_name)
        REFERENCES tenantgate.roles (tenant_id, name) ON UPDATE CASCADE
);
COMMENT ON TABLE tenantgate.memberships IS 'tenant-scoped: a user''s membership and role in a tenant.';
CREATE INDEX IF NOT EXISTS memberships_tenant_role_idx ON tenantgate.memberships (tenant_id, role_name);
CREATE INDEX IF NOT EXISTS memberships_user_idx ON tenantgate.memberships (user_id);

CREATE TABLE IF NOT EXISTS tenantgate.invitations (
    tenant_id          uuid        NOT NULL,
    id                 uuid        NOT NULL DEFAULT gen_random_uuid(),
    email              text        NOT NULL,
    role_name          text        NOT NULL,
    token_hash         bytea       NOT NULL,
    invited_by_user_id uuid,
    created_at         timestamptz NOT NULL DEFAULT now(),
    expires_at         timestamptz NOT NULL,
    accepted_at        timestamptz,
    CONSTRAINT invitations_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT invitations_token_key UNIQUE (tenant_id, token_hash),
    CONSTRAINT invitations_role_fkey FOREIGN KEY (tenant_id, role_name)
        REFERENCES tenantgate.roles (tenant_id, name) ON UPDATE CASCADE ON DELETE CASCADE,
    CONSTRAINT invitations_inviter_fkey FOREIGN KEY (invited_by_user_id) REFERENCES tenantgate.users (id) ON DELETE SET NULL,
    CONSTRAINT invitations_email_lower CHECK (email = lower(email) AND email ~ '^[^@\s]+@[^@\s]+$'),
    CONSTRAINT invitations_token_hash_sha256 CHECK (octet_length(token_hash) = 32),
    CONSTRAINT invitations_expiry_after_creation CHECK (expires_at > created_at)
);
COMMENT ON TABLE tenantgate.invitations IS
    'tenant-scoped: pending and accepted invitations; token_hash = sha256 of the emailed token.';
CREATE INDEX IF NOT EXISTS invitations_tenant_email_idx ON tenantgate.invitations (tenant_id, email);

CREATE TABLE IF NOT EXISTS tenantgate.audit_log (
    id            bigint      GENERATED ALWAYS AS IDENTITY,
    tenant_id     uuid,
    actor_user_id uuid,
    actor_kind    text        NOT NULL,
    action        text        NOT NULL,
    target        text,
    detail        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    request_id    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT audit_log_pkey PRIMARY KEY (id),
    CONSTRAINT audit_log_actor_kind_valid CHECK (actor_kind IN ('user', 'platform_admin', 'system')),
    CONSTRAINT audit_log_action_format CHECK (action ~ '^[a-z][a-z0-9_.]{0,99}$'),
    CONSTRAINT audit_log_detail_object CHECK (jsonb_typeof(detail) = 'object')
);
COMMENT ON TABLE tenantgate.audit_log IS
    'tenant-scoped: append-only audit trail; tenant_id NULL marks a platform event (invisible to tenantgate_app). '
    'No foreign key to tenants: entries outlive a purged tenant.';
CREATE INDEX IF NOT EXISTS audit_log_tenant_created_idx ON tenantgate.audit_log (tenant_id, created_at, id);

CREATE OR REPLACE FUNCTION tenantgate.audit_log_append_only()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'tenantgate.audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
REVOKE ALL ON FUNCTION tenantgate.audit_log_append_only() FROM PUBLIC;
CREATE OR REPLACE TRIGGER audit_log_no_update
    BEFORE UPDATE ON tenantgate.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION tenantgate.audit_log_append_only();

CREATE OR REPLACE TRIGGER plans_touch_updated_at
    BEFORE UPDATE ON tenantgate.plans FOR EACH ROW EXECUTE FUNCTION tenantgate.touch_updated_at();
CREATE OR REPLACE TRIGGER tenants_touch_updated_at
    BEFORE UPDATE ON tenantgate.tenants FOR EACH ROW EXECUTE FUNCTION tenantgate.touch_updated_at();
CREATE OR REPLACE TRIGGER tenant_placements_touch_updated_at
    BEFORE UPDATE ON tenantgate.tenant_placements FOR EACH ROW EXECUTE FUNCTION tenantgate.touch_updated_at();

-- Row-level security ---------------------------------------------------------------------------------------------

ALTER TABLE tenantgate.tenant_placements ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenantgate.tenant_placements FORCE ROW LEVEL SECURITY;
ALTER TABLE tenantgate.tenant_domains   ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenantgate.tenant_domains   FORCE ROW LEVEL SECURITY;
ALTER TABLE tenantgate.roles            ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenantgate.roles            FORCE ROW LEVEL SECURITY;
ALTER TABLE tenantgate.role_permissions ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenantgate.role_permissions FORCE ROW LEVEL SECURITY;
ALTER TABLE tenantgate.memberships      ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenantgate.memberships      FORCE ROW LEVEL SECURITY;
ALTER TABLE tenantgate.invitations      ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenantgate.invitations      FORCE ROW LEVEL SECURITY;
ALTER TABLE tenantgate.audit_log        ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenantgate.audit_log        FORCE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS tenant_isolation ON tenantgate.tenant_placements;
CREATE POLICY tenant_isolation ON tenantgate.tenant_placements FOR ALL TO tenantgate_app
    USING (tenant_id = (SELECT tenantgate.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT tenantgate.current_tenant_id()));
DROP POLICY IF EXISTS tenant_isolation ON tenantgate.tenant_domains;
CREATE POLICY tenant_isolation ON tenantgate.tenant_domains FOR ALL TO tenantgate_app
    USING (tenant_id = (SELECT tenantgate.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT tenantgate.current_tenant_id()));
DROP POLICY IF EXISTS tenant_isolation ON tenantgate.roles;
CREATE POLICY tenant_isolation ON tenantgate.roles FOR ALL TO tenantgate_app
    USING (tenant_id = (SELECT tenantgate.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT tenantgate.current_tenant_id()));
DROP POLICY IF EXISTS tenant_isolation ON tenantgate.role_permissions;
CREATE POLICY tenant_isolation ON tenantgate.role_permissions FOR ALL TO tenantgate_app
    USING (tenant_id = (SELECT tenantgate.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT tenantgate.current_tenant_id()));
DROP POLICY IF EXISTS tenant_isolation ON tenantgate.memberships;
CREATE POLICY tenant_isolation ON tenantgate.memberships FOR ALL TO tenantgate_app
    USING (tenant_id = (SELECT tenantgate.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT tenantgate.current_tenant_id()));
DROP POLICY IF EXISTS tenant_isolation ON tenantgate.invitations;
CREATE POLICY tenant_isolation ON tenantgate.invitations FOR ALL TO tenantgate_app
    USING (tenant_id = (SELECT tenantgate.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT tenantgate.current_tenant_id()));
DROP POLICY IF EXISTS tenant_isolation ON tenantgate.audit_log;
CREATE POLICY tenant_isolation ON tenantgate.audit_log FOR ALL TO tenantgate_app
    USING (tenant_id = (SELECT tenantgate.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT tenantgate.current_tenant_id()));

-- users is not tenant-scoped (no tenant_id), so RLS is enabled but not forced: the owner's ensure_user() may
-- write it. The application role sees the context user and the members of the context tenant.
ALTER TABLE tenantgate.users ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS users_in_context ON tenantgate.users;
CREATE POLICY users_in_context ON tenantgate.users FOR SELECT TO tenantgate_app
    USING (id = (SELECT tenantgate.current_user_id())
           OR EXISTS (SELECT 1 FROM tenantgate.memberships AS m
                       WHERE m.user_id = users.id AND m.tenant_id = (SELECT tenantgate.current_tenant_id())));

-- Functions for the gateway --------------------------------------------------------------------------------------

-- Host resolution runs before a tenant context exists. These return the routing row of an existing tenant
-- (any status: the gateway's lifecycle stage decides) with its placement, or no row. Exact match: the
-- caller passes the normalised slug / domain. Owned by tenantgate_resolver (BYPASSRLS, SELECT on the three
-- routing tables only).
CREATE OR REPLACE FUNCTION tenantgate.resolve_tenant_by_slug(p_slug text)
RETURNS TABLE (tenant_id uuid, slug text, name text, status text, plan text,
               placement text, database_target text, schema_name text, read_only boolean)
LANGUAGE sql STABLE SECURITY DEFINER ROWS 1
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.id, t.slug, t.name, t.status, t.plan, p.placement, p.database_target, p.schema_name, p.read_only
      FROM tenantgate.tenants AS t
      JOIN tenantgate.tenant_placements AS p ON p.tenant_id = t.id
     WHERE t.slug = p_slug
$$;

CREATE OR REPLACE FUNCTION tenantgate.resolve_tenant_by_domain(p_domain text)
RETURNS TABLE (tenant_id uuid, slug text, name text, status text, plan text,
               placement text, database_target text, schema_name text, read_only boolean)
LANGUAGE sql STABLE SECURITY DEFINER ROWS 1
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.id, t.slug, t.name, t.status, t.plan, p.placement, p.database_target, p.schema_name, p.read_only
      FROM tenantgate.tenant_domains AS d
      JOIN tenantgate.tenants AS t ON t.id = d.tenant_id
      JOIN tenantgate.tenant_placements AS p ON p.tenant_id = t.id
     WHERE d.domain = p_domain AND d.verified_at IS NOT NULL AND d.revoked_at IS NULL
$$;

CREATE OR REPLACE FUNCTION tenantgate.resolve_tenant_by_id(p_id uuid)
RETURNS TABLE (tenant_id uuid, slug text, name text, status text, plan text,
               placement text, database_target text, schema_name text, read_only boolean)
LANGUAGE sql STABLE SECURITY DEFINER ROWS 1
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.id, t.slug, t.name, t.status, t.plan, p.placement, p.database_target, p.schema_name, p.read_only
      FROM tenantgate.tenants AS t
      JOIN tenantgate.tenant_placements AS p ON p.tenant_id = t.id
     WHERE t.id = p_id
$$;

REVOKE ALL ON TABLE tenantgate.tenants, tenantgate.tenant_domains, tenantgate.tenant_placements
    FROM tenantgate_resolver;
GRANT SELECT ON TABLE tenantgate.tenants, tenantgate.tenant_domains, tenantgate.tenant_placements
    TO tenantgate_resolver;
-- ALTER ... OWNER TO needs the new owner to hold CREATE on the schema; it is not needed afterwards.
GRANT CREATE ON SCHEMA tenantgate TO tenantgate_resolver;
ALTER FUNCTION tenantgate.resolve_tenant_by_slug(text)   OWNER TO tenantgate_resolver;
ALTER FUNCTION tenantgate.resolve_tenant_by_domain(text) OWNER TO tenantgate_resolver;
ALTER FUNCTION tenantgate.resolve_tenant_by_id(uuid)     OWNER TO tenantgate_resolver;
REVOKE CREATE ON SCHEMA tenantgate FROM tenantgate_resolver;

-- ensure_user(email, display_name): id of the user with that (lower-cased) email, created if missing. Needs a
-- verified tenant context (the gateway signs one for the resolved tenant before it provisions a login).
CREATE OR REPLACE FUNCTION tenantgate.ensure_user(p_email text, p_display_name text)
RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    found uuid;
BEGIN
    IF tenantgate.current_tenant_id() IS NULL THEN
        RAISE EXCEPTION 'ensure_user needs a verified tenant context' USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO tenantgate.users (email, display_name)
    VALUES (pg_catalog.lower(p_email), p_display_name)
    ON CONFLICT (email) DO NOTHING
    RETURNING id INTO found;
    IF found IS NULL THEN
        SELECT u.id INTO found FROM tenantgate.users AS u WHERE u.email = pg_catalog.lower(p_email);
    END IF;
    RETURN found;
END
$$;

-- Grants -----------------------------------------------------------------------------------------------------------

REVOKE ALL ON TABLE
    tenantgate.plans, tenantgate.tenants, tenantgate.tenant_placements, tenantgate.users,
    tenantgate.schema_migrations, tenantgate.tenant_domains, tenantgate.roles, tenantgate.role_permissions,
    tenantgate.memberships, tenantgate.invitations, tenantgate.audit_log
FROM PUBLIC, tenantgate_app;

GRANT SELECT ON TABLE tenantgate.plans, tenantgate.users, tenantgate.tenant_domains TO tenantgate_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE
    tenantgate.roles, tenantgate.role_permissions, tenantgate.memberships, tenantgate.invitations
TO tenantgate_app;
GRANT SELECT, INSERT ON TABLE tenantgate.audit_log TO tenantgate_app;  -- append-only: no UPDATE, no DELETE

REVOKE ALL ON FUNCTION
    tenantgate.resolve_tenant_by_slug(text),
    tenantgate.resolve_tenant_by_domain(text),
    tenantgate.resolve_tenant_by_id(uuid),
    tenantgate.ensure_user(text, text)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    tenantgate.resolve_tenant_by_slug(text),
    tenantgate.resolve_tenant_by_domain(text),
    tenantgate.resolve_tenant_by_id(uuid),
    tenantgate.ensure_user(text, text)
TO tenantgate_app;

DO $$
BEGIN
    PERFORM tenantgate_private.assert_tenant_isolation('tenantgate');
END
$$;
