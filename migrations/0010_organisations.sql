-- 0010_organisations.sql: the organisation layer (issue 16): a permission catalogue, system roles, audit
-- before/after and client address, and the functions the orgs component writes through.
--
-- tenantgate:scope control
--   Apply once, to the control-plane database, after 0008, inside one transaction. Runs as tenantgate_owner
--   (the upgrade of existing tenants' roles runs as tenantgate_members, which bypasses RLS).
--
-- Catalogue: tenantgate.permissions (platform-scoped), one row per permission a component declares. A later
-- component's migration inserts its own rows and calls tenantgate.seed_system_roles(NULL) so owner and admin
-- hold them.
--
-- System roles, in every tenant, built_in = true, never deleted or edited through the API:
--   owner   every catalogue permission; the only role that grants, changes or removes owner
--   admin   every catalogue permission
--   member  tasks.read, tasks.write, members.read
-- Existing tenants get owner (their earliest admin is promoted when the tenant has no owner, audited) and
-- admin/member brought to these sets.
--
-- Writes go through the functions below (SECURITY DEFINER, owned by tenantgate_members, search_path pinned,
-- EXECUTE for tenantgate_app only). Each reads the verified context (tenant, user, permissions) and checks the
-- permission itself, so a backend running arbitrary SQL as tenantgate_app can do nothing the API refuses. No
-- escalation: a caller assigns a role, invites with a role, creates/edits/deletes a role, acts on a member, or
-- sets the SSO default role only when it holds every permission of the roles involved; only an owner grants
-- owner or acts on an owner; the last owner is neither removed nor demoted. Every change writes one audit row
-- (before/after, client address; actor and request id from the context through 0007's trigger).
--
-- Refusals carry SQLSTATE TG400 / TG403 / TG404 / TG409 and the message '<code>|<client-safe text>'; the orgs
-- component turns them into the API's status and error code. Any other error is a bug (500).
--
--   set_member_role(user uuid, role text, client_addr inet)               members.manage -> role
--   remove_member(user uuid, client_addr inet)                            members.manage, or self -> 'removed'|'left'
--   create_invitation(email text, role text, days int, client_addr inet)  members.manage -> (id, token)
--   resend_invitation(id uuid, days int, client_addr inet)                members.manage -> (id, token)
--   revoke_invitation(id uuid, client_addr inet)                          members.manage -> id
--   accept_invitation(token text, client_addr inet DEFAULT NULL)          context user -> role
--   create_role(name, description, permissions text[], client_addr)      roles.manage -> name
--   update_role(name, description?, permissions?, client_addr)            roles.manage -> name
--   delete_role(name text, client_addr inet)                              roles.manage -> name
--   add_domain(domain text, client_addr inet)                             domains.manage -> domain
--   remove_domain(domain text, client_addr inet)                          domains.manage -> domain
--   sso_settings()                                                        sso.manage -> provider (no secret)
--   update_sso(enforced?, jit?, default_role?, domains text[]?, addr)     sso.manage -> true
--   usage_quota()                                                         usage.read -> (monthly_quota, month_to_date)
--   current_tenant()                                                      context -> (id, slug, name, plan, status)
--   my_organisations()                                                    context user -> its active tenants
--   create_organisation(slug text, name text, client_addr inet)           context user -> tenant id
-- Not for the application role: join_by_invitation(tenant, user, token, client_addr) (what accept_invitation
-- and the gateway's login with an invitation share) and seed_system_roles(tenant) (platform: tenant create,
-- the demo, this file).

SET LOCAL client_min_messages = warning;

SET LOCAL ROLE tenantgate_owner;

DO $$
BEGIN
    IF current_user <> 'tenantgate_owner' THEN
        RAISE EXCEPTION 'apply this file inside one transaction (SET LOCAL ROLE tenantgate_owner had no effect)';
    END IF;
    IF pg_catalog.to_regclass('tenantgate.sessions') IS NULL THEN
        RAISE EXCEPTION 'apply 0008_sso.sql to this database first';
    END IF;
END
$$;

-- Permission catalogue (platform-scoped) ---------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS tenantgate.permissions (
    permission  text        NOT NULL,
    component   text        NOT NULL,
    description text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT permissions_pkey PRIMARY KEY (permission),
    CONSTRAINT permissions_format CHECK (permission ~ '^[a-z][a-z0-9_]{0,62}\.[a-z][a-z0-9_]{0,62}$'),
    CONSTRAINT permissions_component_format CHECK (component ~ '^[a-z][a-z0-9_-]{0,62}$')
);
COMMENT ON TABLE tenantgate.permissions IS
    'platform-scoped: the permission catalogue the components declare; custom roles hold only these. No tenant data.';

INSERT INTO tenantgate.permissions (permission, component, description) VALUES
    ('tasks.read',     'tasks', 'Read projects and tasks'),
    ('tasks.write',    'tasks', 'Create, change and delete projects and tasks'),
    ('members.read',   'orgs',  'See members, invitations and roles'),
    ('members.manage', 'orgs',  'Invite, change the role of and remove members'),
    ('roles.manage',   'orgs',  'Create, change and delete custom roles'),
    ('domains.manage', 'orgs',  'Add and remove custom domains'),
    ('sso.manage',     'orgs',  'See and change the single sign-on settings'),
    ('audit.read',     'orgs',  'Read and export the audit log'),
    ('usage.read',     'orgs',  'See request usage and the monthly quota')
ON CONFLICT (permission) DO NOTHING;

REVOKE ALL ON TABLE tenantgate.permissions FROM PUBLIC, tenantgate_app, tenantgate_directory;
GRANT SELECT ON TABLE tenantgate.permissions TO tenantgate_app, tenantgate_members;

-- Invitations: revocable; audit: before/after and the client address -------------------------------------------

ALTER TABLE tenantgate.invitations ADD COLUMN IF NOT EXISTS revoked_at timestamptz;
CREATE INDEX IF NOT EXISTS invitations_tenant_created_idx ON tenantgate.invitations (tenant_id, created_at, id);

ALTER TABLE tenantgate.audit_log ADD COLUMN IF NOT EXISTS before_state jsonb;
ALTER TABLE tenantgate.audit_log ADD COLUMN IF NOT EXISTS after_state jsonb;
ALTER TABLE tenantgate.audit_log ADD COLUMN IF NOT EXISTS client_addr inet;
COMMENT ON COLUMN tenantgate.audit_log.before_state IS 'the changed object before the change (NULL: created)';
COMMENT ON COLUMN tenantgate.audit_log.after_state IS 'the changed object after the change (NULL: removed)';
COMMENT ON COLUMN tenantgate.audit_log.client_addr IS 'the client address as the host saw it (x-tenant-client-addr)';

-- Backends read the new columns; they write memberships, roles, invitations only through the functions.
GRANT SELECT (before_state, after_state, client_addr) ON TABLE tenantgate.audit_log TO tenantgate_app;
REVOKE INSERT, UPDATE, DELETE ON TABLE tenantgate.roles, tenantgate.role_permissions, tenantgate.invitations
    FROM tenantgate_app;
GRANT SELECT ON TABLE tenantgate.roles, tenantgate.role_permissions, tenantgate.invitations TO tenantgate_app;

-- What the functions' owner may touch.
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE tenantgate.roles, tenantgate.role_permissions TO tenantgate_members;
GRANT SELECT, INSERT, UPDATE ON TABLE tenantgate.invitations TO tenantgate_members;
GRANT SELECT, INSERT, UPDATE ON TABLE tenantgate.tenant_domains TO tenantgate_members;
GRANT SELECT, INSERT ON TABLE tenantgate.tenants, tenantgate.tenant_placements TO tenantgate_members;
GRANT SELECT ON TABLE tenantgate.plans, tenantgate.tenant_limits, tenantgate.usage_daily TO tenantgate_members;
GRANT UPDATE (enforced, jit, default_role, allowed_email_domains) ON TABLE tenantgate.sso_providers
    TO tenantgate_members;
GRANT INSERT (before_state, after_state, client_addr, actor_user_id, request_id) ON TABLE tenantgate.audit_log
    TO tenantgate_members;
GRANT EXECUTE ON FUNCTION tenantgate.current_permissions(), tenantgate.has_permission(text)
    TO tenantgate_members;

-- System roles -------------------------------------------------------------------------------------------------------

-- seed_system_roles(tenant): owner, admin and member of the tenant (every tenant when NULL) exist, are built in,
-- and hold exactly their sets. Idempotent. Callers: this file, `tenantgate tenant create`, create_organisation(),
-- the demo; a component's migration that adds catalogue permissions calls it with NULL.
CREATE OR REPLACE FUNCTION tenantgate.system_role_permissions()
RETURNS TABLE (role_name text, permission text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT r.name, p.permission
      FROM (VALUES ('owner'), ('admin')) AS r (name) CROSS JOIN tenantgate.permissions AS p
    UNION ALL
    SELECT 'member', p FROM unnest(ARRAY['tasks.read', 'tasks.write', 'members.read']) AS p
$$;

CREATE OR REPLACE FUNCTION tenantgate.seed_system_roles(p_tenant uuid)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer;
BEGIN
    INSERT INTO tenantgate.roles AS r (tenant_id, name, built_in, description)
    SELECT t.id, s.name, true, s.description
      FROM tenantgate.tenants AS t
     CROSS JOIN (VALUES ('owner', 'Owns the organisation: everything, including owners'),
                        ('admin', 'Manages the organisation'),
                        ('member', 'Works on projects and tasks')) AS s (name, description)
     WHERE p_tenant IS NULL OR t.id = p_tenant
    ON CONFLICT (tenant_id, name) DO UPDATE SET built_in = true;
    GET DIAGNOSTICS n = ROW_COUNT;

    DELETE FROM tenantgate.role_permissions AS rp
     WHERE (p_tenant IS NULL OR rp.tenant_id = p_tenant)
       AND rp.role_name IN ('owner', 'admin', 'member')
       AND NOT EXISTS (SELECT 1 FROM tenantgate.system_role_permissions() AS w
                        WHERE w.role_name = rp.role_name AND w.permission = rp.permission);
    INSERT INTO tenantgate.role_permissions (tenant_id, role_name, permission)
    SELECT t.id, w.role_name, w.permission
      FROM tenantgate.tenants AS t CROSS JOIN tenantgate.system_role_permissions() AS w
     WHERE p_tenant IS NULL OR t.id = p_tenant
    ON CONFLICT DO NOTHING;
    RETURN n;
END
$$;

-- Internal helpers (owned by tenantgate_members, callable only from its own functions) ---------------------------

-- org_refuse(sqlstate, code, text): raises the refusal the component maps to a status and an error code.
CREATE OR REPLACE FUNCTION tenantgate.org_refuse(p_state text, p_code text, p_text text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = p_state, MESSAGE = p_code || '|' || p_text;
END
$$;

-- org_context(permission): the context's tenant, refusing a missing context (401-like: TG403) and a context
-- without the permission (NULL: none needed).
CREATE OR REPLACE FUNCTION tenantgate.org_context(p_permission text)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tid uuid := tenantgate.current_tenant_id();
BEGIN
    IF tid IS NULL THEN
        PERFORM tenantgate.org_refuse('TG403', 'forbidden', 'a verified tenant context is needed');
    END IF;
    IF p_permission IS NOT NULL AND NOT tenantgate.has_permission(p_permission) THEN
        PERFORM tenantgate.org_refuse('TG403', 'forbidden', 'this needs the ' || p_permission || ' permission');
    END IF;
    RETURN tid;
END
$$;

-- org_user(): the context's user, refused when the context names none or no such user exists.
CREATE OR REPLACE FUNCTION tenantgate.org_user()
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    uid uuid := tenantgate.current_user_id();
BEGIN
    IF uid IS NULL OR NOT EXISTS (SELECT 1 FROM tenantgate.users AS u WHERE u.id = uid) THEN
        PERFORM tenantgate.org_refuse('TG403', 'forbidden', 'this needs a signed-in user');
    END IF;
    RETURN uid;
END
$$;

-- org_role_permissions(tenant, role): the role's permissions (NULL when there is no such role).
CREATE OR REPLACE FUNCTION tenantgate.org_role_permissions(p_tenant uuid, p_role text)
RETURNS text[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN EXISTS (SELECT 1 FROM tenantgate.roles AS r WHERE r.tenant_id = p_tenant AND r.name = p_role)
                THEN coalesce((SELECT array_agg(rp.permission ORDER BY rp.permission)
                                 FROM tenantgate.role_permissions AS rp
                                WHERE rp.tenant_id = p_tenant AND rp.role_name = p_role), '{}')
           END
$$;

-- org_covers(permissions): refuses unless the context holds every one of them (the no-escalation rule).
CREATE OR REPLACE FUNCTION tenantgate.org_covers(p_permissions text[], p_what text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    missing text;
BEGIN
    SELECT string_agg(p, ', ' ORDER BY p) INTO missing
      FROM unnest(p_permissions) AS p
     WHERE NOT p = ANY (tenantgate.current_permissions());
    IF missing IS NOT NULL THEN
        PERFORM tenantgate.org_refuse('TG403', 'forbidden',
            p_what || ' needs permissions you do not hold (' || missing || ')');
    END IF;
END
$$;

-- org_is_owner(tenant, user): the user's membership in the tenant is owner.
CREATE OR REPLACE FUNCTION tenantgate.org_is_owner(p_tenant uuid, p_user uuid)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT 1 FROM tenantgate.memberships AS m
                    WHERE m.tenant_id = p_tenant AND m.user_id = p_user AND m.role_name = 'owner')
$$;

-- org_require_owner(tenant, what): refuses unless the context user is an owner of the tenant.
CREATE OR REPLACE FUNCTION tenantgate.org_require_owner(p_tenant uuid, p_what text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT tenantgate.org_is_owner(p_tenant, tenantgate.current_user_id()) THEN
        PERFORM tenantgate.org_refuse('TG403', 'forbidden', 'only an owner may ' || p_what);
    END IF;
END
$$;

-- org_audit: one audit row (the actor and request id come from the context, 0007's trigger).
CREATE OR REPLACE FUNCTION tenantgate.org_audit(p_tenant uuid, p_action text, p_target text, p_before jsonb,
                                                p_after jsonb, p_client_addr inet)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO tenantgate.audit_log (tenant_id, action, target, before_state, after_state, client_addr, actor_kind)
    VALUES (p_tenant, p_action, p_target, p_before, p_after, p_client_addr,
            CASE WHEN tenantgate.current_user_id() IS NULL THEN 'system' ELSE 'user' END)
$$;

-- org_member_json(tenant, user): the member as audit state.
CREATE OR REPLACE FUNCTION tenantgate.org_member_json(p_tenant uuid, p_user uuid)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object('user_id', m.user_id, 'email', u.email, 'role', m.role_name)
      FROM tenantgate.memberships AS m JOIN tenantgate.users AS u ON u.id = m.user_id
     WHERE m.tenant_id = p_tenant AND m.user_id = p_user
$$;

-- org_role_json(tenant, role): the role as audit state.
CREATE OR REPLACE FUNCTION tenantgate.org_role_json(p_tenant uuid, p_role text)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object('name', r.name, 'description', r.description,
                              'permissions', to_jsonb(tenantgate.org_role_permissions(p_tenant, r.name)))
      FROM tenantgate.roles AS r WHERE r.tenant_id = p_tenant AND r.name = p_role
$$;

-- org_invitation_json(tenant, id): the invitation as audit state (never the token or its hash).
CREATE OR REPLACE FUNCTION tenantgate.org_invitation_json(p_tenant uuid, p_id uuid)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object('id', i.id, 'email', i.email, 'role', i.role_name, 'expires_at', i.expires_at,
                              'accepted_at', i.accepted_at, 'revoked_at', i.revoked_at)
      FROM tenantgate.invitations AS i WHERE i.tenant_id = p_tenant AND i.id = p_id
$$;

-- org_new_token(): 32 bytes from two random uuids (244 random bits), hex.
CREATE OR REPLACE FUNCTION tenantgate.org_new_token()
RETURNS text
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT encode(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()), 'hex')
$$;

-- org_days(days): an invitation's lifetime, default 7, 1..30.
CREATE OR REPLACE FUNCTION tenantgate.org_days(p_days integer)
RETURNS interval
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_days IS NOT NULL AND (p_days < 1 OR p_days > 30) THEN
        PERFORM tenantgate.org_refuse('TG400', 'bad_request', 'expires_in_days must be 1 to 30');
    END IF;
    RETURN make_interval(days => coalesce(p_days, 7));
END
$$;

-- Members ----------------------------------------------------------------------------------------------------------

-- org_may_act_on(tenant, user, what): the caller may act on this member: it holds every permission of the
-- member's role, and only an owner acts on an owner. Returns the member's role (refuses unknown members, 404).
CREATE OR REPLACE FUNCTION tenantgate.org_may_act_on(p_tenant uuid, p_user uuid, p_what text)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    current_role_name text;
BEGIN
    SELECT m.role_name INTO current_role_name FROM tenantgate.memberships AS m
     WHERE m.tenant_id = p_tenant AND m.user_id = p_user FOR UPDATE;
    IF current_role_name IS NULL THEN
        PERFORM tenantgate.org_refuse('TG404', 'not_found', 'member not found');
    END IF;
    IF current_role_name = 'owner' THEN
        PERFORM tenantgate.org_require_owner(p_tenant, p_what || ' an owner');
    END IF;
    PERFORM tenantgate.org_covers(tenantgate.org_role_permissions(p_tenant, current_role_name),
                                  'acting on a member with role ' || current_role_name);
    RETURN current_role_name;
END
$$;

-- org_keep_an_owner(tenant, user): refuses when the user is the tenant's last owner.
CREATE OR REPLACE FUNCTION tenantgate.org_keep_an_owner(p_tenant uuid, p_user uuid)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Lock the tenant's owners so two concurrent demotions cannot both see another owner.
    PERFORM 1 FROM tenantgate.memberships AS m
     WHERE m.tenant_id = p_tenant AND m.role_name = 'owner' FOR UPDATE;
    IF tenantgate.org_is_owner(p_tenant, p_user) AND NOT EXISTS (
           SELECT 1 FROM tenantgate.memberships AS m
            WHERE m.tenant_id = p_tenant AND m.role_name = 'owner' AND m.user_id <> p_user) THEN
        PERFORM tenantgate.org_refuse('TG409', 'last_owner', 'the last owner can be neither removed nor demoted');
    END IF;
END
$$;

DROP FUNCTION IF EXISTS tenantgate.set_member_role(uuid, text);
CREATE OR REPLACE FUNCTION tenantgate.set_member_role(p_user_id uuid, p_role text, p_client_addr inet)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tid    uuid := tenantgate.org_context('members.manage');
    was    text;
    perms  text[];
    before jsonb;
BEGIN
    was := tenantgate.org_may_act_on(tid, p_user_id, 'change the role of');
    perms := tenantgate.org_role_permissions(tid, p_role);
    IF perms IS NULL THEN
        PERFORM tenantgate.org_refuse('TG400', 'bad_request', 'no such role');
    END IF;
    IF was = p_role THEN
        RETURN p_role;
    END IF;
    IF p_role = 'owner' THEN
        PERFORM tenantgate.org_require_owner(tid, 'grant the owner role');
    END IF;
    PERFORM tenantgate.org_covers(perms, 'granting the role ' || p_role);
    PERFORM tenantgate.org_keep_an_owner(tid, p_user_id);
    before := tenantgate.org_member_json(tid, p_user_id);
    UPDATE tenantgate.memberships SET role_name = p_role WHERE tenant_id = tid AND user_id = p_user_id;
    PERFORM tenantgate.org_audit(tid, 'member.role_changed', p_user_id::text, before,
                                 tenantgate.org_member_json(tid, p_user_id), p_client_addr);
    RETURN p_role;
END
$$;

-- remove_member: a member with members.manage removes another (see org_may_act_on); anyone may leave. The last
-- owner may do neither. The user's sessions on this tenant are revoked.
DROP FUNCTION IF EXISTS tenantgate.remove_member(uuid);
CREATE OR REPLACE FUNCTION tenantgate.remove_member(p_user_id uuid, p_client_addr inet)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    leaving boolean := p_user_id = tenantgate.current_user_id();
    tid     uuid := tenantgate.org_context(CASE WHEN leaving THEN NULL ELSE 'members.manage' END);
    before  jsonb;
BEGIN
    IF leaving THEN
        IF NOT EXISTS (SELECT 1 FROM tenantgate.memberships AS m WHERE m.tenant_id = tid AND m.user_id = p_user_id) THEN
            PERFORM tenantgate.org_refuse('TG404', 'not_found', 'member not found');
        END IF;
    ELSE
        PERFORM tenantgate.org_may_act_on(tid, p_user_id, 'remove');
    END IF;
    PERFORM tenantgate.org_keep_an_owner(tid, p_user_id);
    before := tenantgate.org_member_json(tid, p_user_id);
    DELETE FROM tenantgate.memberships WHERE tenant_id = tid AND user_id = p_user_id;
    UPDATE tenantgate.sessions SET revoked_at = statement_timestamp()
     WHERE tenant_id = tid AND user_id = p_user_id AND revoked_at IS NULL;
    PERFORM tenantgate.org_audit(tid, CASE WHEN leaving THEN 'member.left' ELSE 'member.removed' END,
                                 p_user_id::text, before, NULL, p_client_addr);
    RETURN CASE WHEN leaving THEN 'left' ELSE 'removed' END;
END
$$;

-- Invitations ------------------------------------------------------------------------------------------------------

-- org_may_invite_as(tenant, role): the role exists and the caller may grant it.
CREATE OR REPLACE FUNCTION tenantgate.org_may_invite_as(p_tenant uuid, p_role text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    perms text[] := tenantgate.org_role_permissions(p_tenant, p_role);
BEGIN
    IF perms IS NULL THEN
        PERFORM tenantgate.org_refuse('TG400', 'bad_request', 'no such role');
    END IF;
    IF p_role = 'owner' THEN
        PERFORM tenantgate.org_require_owner(p_tenant, 'invite an owner');
    END IF;
    PERFORM tenantgate.org_covers(perms, 'inviting with the role ' || p_role);
END
$$;

CREATE OR REPLACE FUNCTION tenantgate.create_invitation(p_email text, p_role text, p_days integer,
                                                        p_client_addr inet)
RETURNS TABLE (invitation_id uuid, token text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER ROWS 1
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tid     uuid := tenantgate.org_context('members.manage');
    v_email text := lower(btrim(coalesce(p_email, '')));
    v_life  interval := tenantgate.org_days(p_days);
    v_token text := tenantgate.org_new_token();
    v_id    uuid;
BEGIN
    IF v_email !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' OR char_length(v_email) > 320 THEN
        PERFORM tenantgate.org_refuse('TG400', 'bad_request', 'email is not an e-mail address');
    END IF;
    PERFORM tenantgate.org_may_invite_as(tid, p_role);
    -- One pending invitation per (tenant, email): serialise creations for this address.
    PERFORM pg_advisory_xact_lock(hashtextextended(tid::text || '/' || v_email, 10));
    IF EXISTS (SELECT 1 FROM tenantgate.memberships AS m JOIN tenantgate.users AS u ON u.id = m.user_id
                WHERE m.tenant_id = tid AND u.email = v_email) THEN
        PERFORM tenantgate.org_refuse('TG409', 'already_member', 'this person is already a member');
    END IF;
    IF EXISTS (SELECT 1 FROM tenantgate.invitations AS i
                WHERE i.tenant_id = tid AND i.email = v_email AND i.accepted_at IS NULL
                  AND i.revoked_at IS NULL AND i.expires_at > statement_timestamp()) THEN
        PERFORM tenantgate.org_refuse('TG409', 'invitation_exists',
            'a pending invitation for this e-mail exists; resend it instead');
    END IF;
    INSERT INTO tenantgate.invitations (tenant_id, email, role_name, token_hash, invited_by_user_id, expires_at)
    VALUES (tid, v_email, p_role, sha256(convert_to(v_token, 'UTF8')), tenantgate.current_user_id(),
            statement_timestamp() + v_life)
    RETURNING id INTO v_id;
    PERFORM tenantgate.org_audit(tid, 'invitation.created', v_id::text, NULL,
                                 tenantgate.org_invitation_json(tid, v_id), p_client_addr);
    RETURN QUERY SELECT v_id, v_token;
END
$$;

-- resend_invitation: a new token and expiry for a pending or expired invitation (the old token is dead).
CREATE OR REPLACE FUNCTION tenantgate.resend_invitation(p_id uuid, p_days integer, p_client_addr inet)
RETURNS TABLE (invitation_id uuid, token text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER ROWS 1
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tid     uuid := tenantgate.org_context('members.manage');
    v_life  interval := tenantgate.org_days(p_days);
    v_token text := tenantgate.org_new_token();
    inv     tenantgate.invitations;
    before  jsonb;
BEGIN
    SELECT * INTO inv FROM tenantgate.invitations AS i WHERE i.tenant_id = tid AND i.id = p_id FOR UPDATE;
    IF inv.id IS NULL THEN
        PERFORM tenantgate.org_refuse('TG404', 'not_found', 'invitation not found');
    END IF;
    IF inv.accepted_at IS NOT NULL OR inv.revoked_at IS NOT NULL THEN
        PERFORM tenantgate.org_refuse('TG409', 'conflict', 'the invitation was accepted or revoked');
    END IF;
    PERFORM tenantgate.org_may_invite_as(tid, inv.role_name);
    before := tenantgate.org_invitation_json(tid, p_id);
    UPDATE tenantgate.invitations
       SET token_hash = sha256(convert_to(v_token, 'UTF8')), expires_at = statement_timestamp() + v_life
     WHERE tenant_id = tid AND id = p_id;
    PERFORM tenantgate.org_audit(tid, 'invitation.resent', p_id::text, before,
                                 tenantgate.org_invitation_json(tid, p_id), p_client_addr);
    RETURN QUERY SELECT p_id, v_token;
END
$$;

CREATE OR REPLACE FUNCTION tenantgate.revoke_invitation(p_id uuid, p_client_addr inet)
RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tid    uuid := tenantgate.org_context('members.manage');
    inv    tenantgate.invitations;
    before jsonb;
BEGIN
    SELECT * INTO inv FROM tenantgate.invitations AS i WHERE i.tenant_id = tid AND i.id = p_id FOR UPDATE;
    IF inv.id IS NULL THEN
        PERFORM tenantgate.org_refuse('TG404', 'not_found', 'invitation not found');
    END IF;
    IF inv.accepted_at IS NOT NULL OR inv.revoked_at IS NOT NULL THEN
        PERFORM tenantgate.org_refuse('TG409', 'conflict', 'the invitation was accepted or revoked');
    END IF;
    before := tenantgate.org_invitation_json(tid, p_id);
    UPDATE tenantgate.invitations SET revoked_at = statement_timestamp() WHERE tenant_id = tid AND id = p_id;
    PERFORM tenantgate.org_audit(tid, 'invitation.revoked', p_id::text, before,
                                 tenantgate.org_invitation_json(tid, p_id), p_client_addr);
    RETURN p_id;
END
$$;

-- join_by_invitation(tenant, user, token, client_addr): the user joins the tenant through a pending, unexpired,
-- unrevoked invitation of that tenant for the user's own e-mail (sha256(token) = token_hash); the invitation is
-- used up. A user who is already a member keeps their role (the invitation is still used up). Refuses anything
-- else with TG404 invitation_not_found (one answer for a bad, used, expired, revoked or other e-mail's token).
-- Returns the member's role. Not callable by backends: accept_invitation() passes the verified context's
-- tenant and user; the gateway's login with an invitation (sso_login) passes the login's.
CREATE OR REPLACE FUNCTION tenantgate.join_by_invitation(p_tenant uuid, p_user uuid, p_token text,
                                                         p_client_addr inet)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_email text;
    inv     tenantgate.invitations;
    v_role  text;
    before  jsonb;
BEGIN
    SELECT u.email INTO v_email FROM tenantgate.users AS u WHERE u.id = p_user;
    SELECT * INTO inv FROM tenantgate.invitations AS i
     WHERE i.tenant_id = p_tenant AND i.token_hash = sha256(convert_to(coalesce(p_token, ''), 'UTF8'))
       AND i.email = v_email AND i.accepted_at IS NULL AND i.revoked_at IS NULL
       AND i.expires_at > statement_timestamp()
     FOR UPDATE;
    IF inv.id IS NULL THEN
        PERFORM tenantgate.org_refuse('TG404', 'invitation_not_found',
            'no pending invitation for this user and token');
    END IF;
    before := tenantgate.org_invitation_json(p_tenant, inv.id);
    INSERT INTO tenantgate.memberships (tenant_id, user_id, role_name) VALUES (p_tenant, p_user, inv.role_name)
    ON CONFLICT (tenant_id, user_id) DO NOTHING;
    SELECT m.role_name INTO v_role FROM tenantgate.memberships AS m
     WHERE m.tenant_id = p_tenant AND m.user_id = p_user;
    UPDATE tenantgate.invitations SET accepted_at = statement_timestamp() WHERE tenant_id = p_tenant AND id = inv.id;
    PERFORM tenantgate.org_audit(p_tenant, 'invitation.accepted', inv.id::text, before,
                                 tenantgate.org_invitation_json(p_tenant, inv.id)
                                     || jsonb_build_object('user_id', p_user, 'member_role', v_role),
                                 p_client_addr);
    RETURN v_role;
END
$$;

DROP FUNCTION IF EXISTS tenantgate.accept_invitation(text);
CREATE OR REPLACE FUNCTION tenantgate.accept_invitation(p_token text, p_client_addr inet DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tid uuid := tenantgate.org_context(NULL);
    uid uuid := tenantgate.current_user_id();
BEGIN
    IF uid IS NULL THEN
        PERFORM tenantgate.org_refuse('TG403', 'forbidden', 'accepting an invitation needs a signed-in user');
    END IF;
    RETURN tenantgate.join_by_invitation(tid, uid, p_token, p_client_addr);
END
$$;

-- Roles ------------------------------------------------------------------------------------------------------------

-- org_checked_permissions(perms): the list, de-duplicated and sorted, every entry in the catalogue.
CREATE OR REPLACE FUNCTION tenantgate.org_checked_permissions(p_permissions text[])
RETURNS text[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    unknown text;
BEGIN
    SELECT string_agg(p, ', ' ORDER BY p) INTO unknown FROM unnest(p_permissions) AS p
     WHERE p IS NULL OR NOT EXISTS (SELECT 1 FROM tenantgate.permissions AS c WHERE c.permission = p);
    IF unknown IS NOT NULL OR EXISTS (SELECT 1 FROM unnest(p_permissions) AS p WHERE p IS NULL) THEN
        PERFORM tenantgate.org_refuse('TG400', 'bad_request',
            'not in the permission catalogue: ' || coalesce(unknown, 'null'));
    END IF;
    RETURN (SELECT coalesce(array_agg(DISTINCT p ORDER BY p), '{}') FROM unnest(p_permissions) AS p);
END
$$;

CREATE OR REPLACE FUNCTION tenantgate.org_checked_description(p_description text)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF char_length(p_description) > 500 THEN
        PERFORM tenantgate.org_refuse('TG400', 'bad_request', 'description must be at most 500 characters');
    END IF;
    RETURN nullif(btrim(p_description), '');
END
$$;

-- org_custom_role(tenant, name): the custom role, locked, which the caller may edit (404, 409 role_built_in).
CREATE OR REPLACE FUNCTION tenantgate.org_custom_role(p_tenant uuid, p_name text)
RETURNS text[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r tenantgate.roles;
    perms text[];
BEGIN
    SELECT * INTO r FROM tenantgate.roles AS x WHERE x.tenant_id = p_tenant AND x.name = p_name FOR UPDATE;
    IF r.name IS NULL THEN
        PERFORM tenantgate.org_refuse('TG404', 'not_found', 'role not found');
    END IF;
    IF r.built_in THEN
        PERFORM tenantgate.org_refuse('TG409', 'role_built_in', 'system roles cannot be changed or deleted');
    END IF;
    perms := tenantgate.org_role_permissions(p_tenant, p_name);
    PERFORM tenantgate.org_covers(perms, 'changing the role ' || p_name);
    RETURN perms;
END
$$;

CREATE OR REPLACE FUNCTION tenantgate.create_role(p_name text, p_description text, p_permissions text[],
                                                  p_client_addr inet)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tid   uuid := tenantgate.org_context('roles.manage');
    perms text[] := tenantgate.org_checked_permissions(coalesce(p_permissions, '{}'));
    descr text := tenantgate.org_checked_description(p_description);
BEGIN
    IF p_name IS NULL OR p_name !~ '^[a-z][a-z0-9_-]{0,62}$' THEN
        PERFORM tenantgate.org_refuse('TG400', 'bad_request',
            'name must be a lower-case letter then up to 62 of a-z, 0-9, _ and -');
    END IF;
    PERFORM tenantgate.org_covers(perms, 'a role with these permissions');
    INSERT INTO tenantgate.roles (tenant_id, name, built_in, description) VALUES (tid, p_name, false, descr)
    ON CONFLICT (tenant_id, name) DO NOTHING;
    IF NOT FOUND THEN
        PERFORM tenantgate.org_refuse('TG409', 'conflict', 'a role with this name exists');
    END IF;
    INSERT INTO tenantgate.role_permissions (tenant_id, role_name, permission)
    SELECT tid, p_name, p FROM unnest(perms) AS p;
    PERFORM tenantgate.org_audit(tid, 'role.created', p_name, NULL, tenantgate.org_role_json(tid, p_name),
                                 p_client_addr);
    RETURN p_name;
END
$$;

-- update_role: NULL description or permissions leave that part as it is ('' clears the description).
CREATE OR REPLACE FUNCTION tenantgate.update_role(p_name text, p_description text, p_permissions text[],
                                                  p_client_addr inet)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tid    uuid := tenantgate.org_context('roles.manage');
    perms  text[];
    before jsonb;
BEGIN
    PERFORM tenantgate.org_custom_role(tid, p_name);
    before := tenantgate.org_role_json(tid, p_name);
    IF p_description IS NOT NULL THEN
        UPDATE tenantgate.roles SET description = tenantgate.org_checked_description(p_description)
         WHERE tenant_id = tid AND name = p_name;
    END IF;
    IF p_permissions IS NOT NULL THEN
        perms := tenantgate.org_checked_permissions(p_permissions);
        PERFORM tenantgate.org_covers(perms, 'a role with these permissions');
        DELETE FROM tenantgate.role_permissions
         WHERE tenant_id = tid AND role_name = p_name AND NOT permission = ANY (perms);
        INSERT INTO tenantgate.role_permissions (tenant_id, role_name, permission)
        SELECT tid, p_name, p FROM unnest(perms) AS p
        ON CONFLICT DO NOTHING;
    END IF;
    IF before IS DISTINCT FROM tenantgate.org_role_json(tid, p_name) THEN
        PERFORM tenantgate.org_audit(tid, 'role.updated', p_name, before, tenantgate.org_role_json(tid, p_name),
                                     p_client_addr);
    END IF;
    RETURN p_name;
END
$$;

CREATE OR REPLACE FUNCTION tenantgate.delete_role(p_name text, p_client_addr inet)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tid    uuid := tenantgate.org_context('roles.manage');
    before jsonb;
BEGIN
    PERFORM tenantgate.org_custom_role(tid, p_name);
    IF EXISTS (SELECT 1 FROM tenantgate.memberships AS m WHERE m.tenant_id = tid AND m.role_name = p_name)
       OR EXISTS (SELECT 1 FROM tenantgate.invitations AS i
                   WHERE i.tenant_id = tid AND i.role_name = p_name AND i.accepted_at IS NULL
                     AND i.revoked_at IS NULL AND i.expires_at > statement_timestamp())
       OR EXISTS (SELECT 1 FROM tenantgate.sso_providers AS s WHERE s.tenant_id = tid AND s.default_role = p_name)
    THEN
        PERFORM tenantgate.org_refuse('TG409', 'role_in_use',
            'members, pending invitations or the SSO settings use this role');
    END IF;
    before := tenantgate.org_role_json(tid, p_name);
    DELETE FROM tenantgate.roles WHERE tenant_id = tid AND name = p_name;
    PERFORM tenantgate.org_audit(tid, 'role.deleted', p_name, before, NULL, p_client_addr);
    RETURN p_name;
END
$$;

-- Domains ----------------------------------------------------------------------------------------------------------

-- add_domain: a pending claim with a fresh verification token (the control plane's verifier proves it later,
-- `tenantgate domain verify`). A live claim of this tenant is answered 409; a domain verified for another
-- tenant too (DNS already tells anyone who serves it).
CREATE OR REPLACE FUNCTION tenantgate.add_domain(p_domain text, p_client_addr inet)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tid      uuid := tenantgate.org_context('domains.manage');
    v_domain text := rtrim(lower(btrim(coalesce(p_domain, ''))), '.');
    before   jsonb;
BEGIN
    IF char_length(v_domain) > 253
       OR v_domain !~ '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' THEN
        PERFORM tenantgate.org_refuse('TG400', 'bad_request', 'domain must be a host name (IDNA A-labels)');
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('domain/' || v_domain, 10));
    IF EXISTS (SELECT 1 FROM tenantgate.tenant_domains AS d
                WHERE d.domain = v_domain AND d.verified_at IS NOT NULL AND d.revoked_at IS NULL) THEN
        PERFORM tenantgate.org_refuse('TG409', 'conflict', 'this domain is verified for an organisation');
    END IF;
    IF EXISTS (SELECT 1 FROM tenantgate.tenant_domains AS d
                WHERE d.tenant_id = tid AND d.domain = v_domain AND d.revoked_at IS NULL) THEN
        PERFORM tenantgate.org_refuse('TG409', 'conflict', 'this organisation already claims this domain');
    END IF;
    SELECT to_jsonb(d) - 'verification_token' - 'tenant_id' INTO before
      FROM tenantgate.tenant_domains AS d WHERE d.tenant_id = tid AND d.domain = v_domain;
    INSERT INTO tenantgate.tenant_domains (tenant_id, domain, verification_token)
    VALUES (tid, v_domain, 'tg-verify-' || encode(uuid_send(gen_random_uuid()), 'hex'))
    ON CONFLICT (tenant_id, domain) DO UPDATE
        SET verification_token = excluded.verification_token, created_at = now(), verified_at = NULL,
            revoked_at = NULL;
    PERFORM tenantgate.org_audit(tid, 'domain.added', v_domain, before,
                                 jsonb_build_object('domain', v_domain, 'status', 'pending'), p_client_addr);
    RETURN v_domain;
END
$$;

CREATE OR REPLACE FUNCTION tenantgate.remove_domain(p_domain text, p_client_addr inet)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tid      uuid := tenantgate.org_context('domains.manage');
    v_domain text := rtrim(lower(btrim(coalesce(p_domain, ''))), '.');
    was_verified boolean;
BEGIN
    UPDATE tenantgate.tenant_domains AS d SET revoked_at = statement_timestamp()
     WHERE d.tenant_id = tid AND d.domain = v_domain AND d.revoked_at IS NULL
    RETURNING d.verified_at IS NOT NULL INTO was_verified;
    IF was_verified IS NULL THEN
        PERFORM tenantgate.org_refuse('TG404', 'not_found', 'domain not found');
    END IF;
    PERFORM tenantgate.org_audit(tid, 'domain.removed', v_domain,
        jsonb_build_object('domain', v_domain, 'status', CASE WHEN was_verified THEN 'verified' ELSE 'pending' END),
        jsonb_build_object('domain', v_domain, 'status', 'revoked'), p_client_addr);
    RETURN v_domain;
END
$$;

-- SSO settings -----------------------------------------------------------------------------------------------------

-- sso_settings(): the tenant's provider without its secret, or no row.
CREATE OR REPLACE FUNCTION tenantgate.sso_settings()
RETURNS TABLE (kind text, issuer text, entity_id text, client_id text, enforced boolean, jit boolean,
               default_role text, allowed_email_domains text[], keys_refreshed_at timestamptz,
               refresh_error text)
LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 1
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tid uuid := tenantgate.org_context('sso.manage');
BEGIN
    RETURN QUERY
    SELECT p.kind, p.issuer, p.idp_entity_id, p.client_id, p.enforced, p.jit, p.default_role,
           p.allowed_email_domains, p.keys_refreshed_at, p.refresh_error
      FROM tenantgate.sso_providers AS p WHERE p.tenant_id = tid;
END
$$;

CREATE OR REPLACE FUNCTION tenantgate.org_sso_json(p_tenant uuid)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object('enforced', p.enforced, 'jit', p.jit, 'default_role', p.default_role,
                              'allowed_email_domains', to_jsonb(p.allowed_email_domains))
      FROM tenantgate.sso_providers AS p WHERE p.tenant_id = p_tenant
$$;

-- update_sso: NULL leaves a setting as it is. The default role (what just-in-time members get) must be one the
-- caller may grant, and never owner.
CREATE OR REPLACE FUNCTION tenantgate.update_sso(p_enforced boolean, p_jit boolean, p_default_role text,
                                                 p_allowed_email_domains text[], p_client_addr inet)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tid     uuid := tenantgate.org_context('sso.manage');
    before  jsonb := tenantgate.org_sso_json(tid);
    perms   text[];
    domains text[];
BEGIN
    IF before IS NULL THEN
        PERFORM tenantgate.org_refuse('TG404', 'sso_not_configured', 'this organisation has no identity provider');
    END IF;
    IF p_default_role IS NOT NULL THEN
        perms := tenantgate.org_role_permissions(tid, p_default_role);
        IF perms IS NULL OR p_default_role = 'owner' THEN
            PERFORM tenantgate.org_refuse('TG400', 'bad_request', 'default_role must be a role other than owner');
        END IF;
        PERFORM tenantgate.org_covers(perms, 'the default role ' || p_default_role);
    END IF;
    IF p_allowed_email_domains IS NOT NULL THEN
        SELECT coalesce(array_agg(DISTINCT rtrim(lower(btrim(d)), '.') ORDER BY rtrim(lower(btrim(d)), '.')), '{}')
          INTO domains FROM unnest(p_allowed_email_domains) AS d;
        IF cardinality(domains) > 100 OR EXISTS (
               SELECT 1 FROM unnest(domains) AS d
                WHERE d IS NULL OR char_length(d) > 253
                   OR d !~ '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$') THEN
            PERFORM tenantgate.org_refuse('TG400', 'bad_request', 'allowed_email_domains must be host names');
        END IF;
    END IF;
    UPDATE tenantgate.sso_providers AS p
       SET enforced = coalesce(p_enforced, p.enforced), jit = coalesce(p_jit, p.jit),
           default_role = coalesce(p_default_role, p.default_role),
           allowed_email_domains = coalesce(domains, p.allowed_email_domains)
     WHERE p.tenant_id = tid;
    IF before IS DISTINCT FROM tenantgate.org_sso_json(tid) THEN
        PERFORM tenantgate.org_audit(tid, 'sso.updated', 'sso', before, tenantgate.org_sso_json(tid), p_client_addr);
    END IF;
    RETURN true;
END
$$;

-- Reads the application role cannot do under RLS alone ------------------------------------------------------------

-- usage_quota(): the tenant's monthly quota (NULL: none) and signed-in requests this UTC month.
CREATE OR REPLACE FUNCTION tenantgate.usage_quota()
RETURNS TABLE (monthly_quota bigint, month_to_date bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 1
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tid uuid := tenantgate.org_context('usage.read');
BEGIN
    RETURN QUERY
    SELECT (jsonb_strip_nulls(p.limits || coalesce(o.limits, '{}'::jsonb)) ->> 'monthly_requests')::bigint,
           (SELECT coalesce(sum(u.requests), 0)::bigint FROM tenantgate.usage_daily AS u
             WHERE u.tenant_id = tid AND u.audience = 'user' AND u.status_family <> '429'
               AND u.day >= date_trunc('month', statement_timestamp() AT TIME ZONE 'UTC')::date)
      FROM tenantgate.tenants AS t
      JOIN tenantgate.plans AS p ON p.id = t.plan
      LEFT JOIN tenantgate.tenant_limits AS o ON o.tenant_id = t.id
     WHERE t.id = tid;
END
$$;

-- current_tenant(): the context's tenant.
CREATE OR REPLACE FUNCTION tenantgate.current_tenant()
RETURNS TABLE (id uuid, slug text, name text, plan text, status text)
LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 1
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tid uuid := tenantgate.org_context(NULL);
BEGIN
    RETURN QUERY SELECT t.id, t.slug, t.name, t.plan, t.status FROM tenantgate.tenants AS t WHERE t.id = tid;
END
$$;

-- my_organisations(): the context user's memberships in active tenants (the switcher), and which is current.
CREATE OR REPLACE FUNCTION tenantgate.my_organisations()
RETURNS TABLE (slug text, name text, role text, status text, sso text, is_current boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tid uuid := tenantgate.org_context(NULL);
    uid uuid := tenantgate.current_user_id();
BEGIN
    RETURN QUERY
    SELECT t.slug, t.name, m.role_name, t.status,
           coalesce((SELECT CASE WHEN p.enforced THEN 'enforced' ELSE 'sso' END
                       FROM tenantgate.sso_providers AS p WHERE p.tenant_id = t.id), 'none'),
           t.id = tid
      FROM tenantgate.memberships AS m
      JOIN tenantgate.tenants AS t ON t.id = m.tenant_id
     WHERE m.user_id = uid AND t.status = 'active'
     ORDER BY t.slug
     LIMIT 1000;
END
$$;

-- Self-serve organisations -----------------------------------------------------------------------------------------

-- create_organisation(slug, name): a new tenant (plan free, placement shared, system roles) owned by the
-- context user, with organisation.created in its own log. At most 10 organisations owned per user.
CREATE OR REPLACE FUNCTION tenantgate.create_organisation(p_slug text, p_name text, p_client_addr inet)
RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tid    uuid := tenantgate.org_context(NULL);
    uid    uuid := tenantgate.org_user();
    v_name text := btrim(coalesce(p_name, ''));
    new_id uuid;
BEGIN
    IF p_slug IS NULL OR char_length(p_slug) < 3 OR p_slug !~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' THEN
        PERFORM tenantgate.org_refuse('TG400', 'slug_invalid',
            'slug must be 3 to 63 of a-z, 0-9 and -, not starting or ending with -');
    END IF;
    -- The same list as tenant_contract::ids::RESERVED_LABELS (and tenants_slug_not_reserved).
    IF p_slug = ANY (ARRAY['www', 'api', 'admin', 'app', 'auth', 'login', 'sso', 'static', 'assets', 'status',
                           'mail']) THEN
        PERFORM tenantgate.org_refuse('TG400', 'slug_reserved', 'this name is reserved');
    END IF;
    IF char_length(v_name) < 1 OR char_length(v_name) > 200 THEN
        PERFORM tenantgate.org_refuse('TG400', 'bad_request', 'name must be 1 to 200 characters');
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('owner/' || uid::text, 10));
    IF (SELECT count(*) FROM tenantgate.memberships AS m JOIN tenantgate.tenants AS t ON t.id = m.tenant_id
         WHERE m.user_id = uid AND m.role_name = 'owner' AND t.status <> 'deleted') >= 10 THEN
        PERFORM tenantgate.org_refuse('TG409', 'organisation_limit', 'you own the most organisations allowed (10)');
    END IF;
    INSERT INTO tenantgate.tenants (slug, name, plan) VALUES (p_slug, v_name, 'free')
    ON CONFLICT (slug) DO NOTHING
    RETURNING id INTO new_id;
    IF new_id IS NULL THEN
        PERFORM tenantgate.org_refuse('TG409', 'slug_taken', 'this name is taken');
    END IF;
    INSERT INTO tenantgate.tenant_placements (tenant_id, placement) VALUES (new_id, 'shared');
    PERFORM tenantgate.seed_system_roles(new_id);
    INSERT INTO tenantgate.memberships (tenant_id, user_id, role_name) VALUES (new_id, uid, 'owner');
    PERFORM tenantgate.org_audit(new_id, 'organisation.created', p_slug, NULL,
        jsonb_build_object('slug', p_slug, 'name', v_name, 'plan', 'free', 'placement', 'shared',
                           'owner', uid, 'created_from', tid),
        p_client_addr);
    RETURN new_id;
END
$$;

-- Ownership and rights ---------------------------------------------------------------------------------------------

GRANT CREATE ON SCHEMA tenantgate TO tenantgate_members;
DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'tenantgate.system_role_permissions()',
        'tenantgate.seed_system_roles(uuid)',
        'tenantgate.org_refuse(text, text, text)',
        'tenantgate.org_context(text)',
        'tenantgate.org_user()',
        'tenantgate.org_role_permissions(uuid, text)',
        'tenantgate.org_covers(text[], text)',
        'tenantgate.org_is_owner(uuid, uuid)',
        'tenantgate.org_require_owner(uuid, text)',
        'tenantgate.org_audit(uuid, text, text, jsonb, jsonb, inet)',
        'tenantgate.org_member_json(uuid, uuid)',
        'tenantgate.org_role_json(uuid, text)',
        'tenantgate.org_invitation_json(uuid, uuid)',
        'tenantgate.org_new_token()',
        'tenantgate.org_days(integer)',
        'tenantgate.org_may_act_on(uuid, uuid, text)',
        'tenantgate.org_keep_an_owner(uuid, uuid)',
        'tenantgate.org_may_invite_as(uuid, text)',
        'tenantgate.org_checked_permissions(text[])',
        'tenantgate.org_checked_description(text)',
        'tenantgate.org_custom_role(uuid, text)',
        'tenantgate.org_sso_json(uuid)',
        'tenantgate.set_member_role(uuid, text, inet)',
        'tenantgate.remove_member(uuid, inet)',
        'tenantgate.create_invitation(text, text, integer, inet)',
        'tenantgate.resend_invitation(uuid, integer, inet)',
        'tenantgate.revoke_invitation(uuid, inet)',
        'tenantgate.join_by_invitation(uuid, uuid, text, inet)',
        'tenantgate.accept_invitation(text, inet)',
        'tenantgate.create_role(text, text, text[], inet)',
        'tenantgate.update_role(text, text, text[], inet)',
        'tenantgate.delete_role(text, inet)',
        'tenantgate.add_domain(text, inet)',
        'tenantgate.remove_domain(text, inet)',
        'tenantgate.sso_settings()',
        'tenantgate.update_sso(boolean, boolean, text, text[], inet)',
        'tenantgate.usage_quota()',
        'tenantgate.current_tenant()',
        'tenantgate.my_organisations()',
        'tenantgate.create_organisation(text, text, inet)'
    ] LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s OWNER TO tenantgate_members', f);
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC, tenantgate_app, tenantgate_directory', f);
    END LOOP;
END
$$;
REVOKE CREATE ON SCHEMA tenantgate FROM tenantgate_members;

GRANT EXECUTE ON FUNCTION
    tenantgate.set_member_role(uuid, text, inet),
    tenantgate.remove_member(uuid, inet),
    tenantgate.create_invitation(text, text, integer, inet),
    tenantgate.resend_invitation(uuid, integer, inet),
    tenantgate.revoke_invitation(uuid, inet),
    tenantgate.accept_invitation(text, inet),
    tenantgate.create_role(text, text, text[], inet),
    tenantgate.update_role(text, text, text[], inet),
    tenantgate.delete_role(text, inet),
    tenantgate.add_domain(text, inet),
    tenantgate.remove_domain(text, inet),
    tenantgate.sso_settings(),
    tenantgate.update_sso(boolean, boolean, text, text[], inet),
    tenantgate.usage_quota(),
    tenantgate.current_tenant(),
    tenantgate.my_organisations(),
    tenantgate.create_organisation(text, text, inet)
TO tenantgate_app;

-- Existing tenants: system roles, and an owner where there is none -------------------------------------------------

SET LOCAL ROLE tenantgate_members;  -- BYPASSRLS: platform work on every tenant's rows
SELECT tenantgate.seed_system_roles(NULL);
WITH promoted AS (
    UPDATE tenantgate.memberships AS m SET role_name = 'owner'
      FROM (SELECT DISTINCT ON (x.tenant_id) x.tenant_id, x.user_id
              FROM tenantgate.memberships AS x
             WHERE x.role_name = 'admin'
               AND NOT EXISTS (SELECT 1 FROM tenantgate.memberships AS o
                                WHERE o.tenant_id = x.tenant_id AND o.role_name = 'owner')
             ORDER BY x.tenant_id, x.created_at, x.user_id) AS first_admin
     WHERE m.tenant_id = first_admin.tenant_id AND m.user_id = first_admin.user_id
    RETURNING m.tenant_id, m.user_id
)
INSERT INTO tenantgate.audit_log (tenant_id, actor_kind, action, target, before_state, after_state, detail)
SELECT p.tenant_id, 'system', 'member.role_changed', p.user_id::text,
       jsonb_build_object('user_id', p.user_id, 'role', 'admin'),
       jsonb_build_object('user_id', p.user_id, 'role', 'owner'),
       jsonb_build_object('reason', 'migration 0010: every organisation has an owner')
  FROM promoted AS p;
SET LOCAL ROLE tenantgate_owner;

DO $$
BEGIN
    PERFORM tenantgate_private.assert_tenant_isolation('tenantgate');
END
$$;
