-- 0007_isolation_control.sql: roles by duty in the control plane, and audit events a tenant cannot forge
-- (issue 12; the per-database half, roles and side channels, is 0006).
--
-- tenantgate:scope control
--   Apply once, to the control-plane database, after 0006, inside one transaction. Runs as tenantgate_owner.
--
-- Functions are default-deny: EXECUTE on every function of schema tenantgate is revoked from
-- PUBLIC, tenantgate_app and tenantgate_directory, then granted back by duty:
--   tenantgate_app        the context functions (current_*(), has_permission()) and the membership functions
--                         below; no directory lookup, no user provisioning.
--   tenantgate_directory  resolve_tenant_by_slug/domain/id() and ensure_user(), and the gateway's rate-limit and
--                         usage functions of 0005 (effective_limits(), monthly_usage(), record_usage()); nothing
--                         else, no table.
-- (A later file adding functions to tenantgate grants them here, by duty, in the same way.)
--
-- users and memberships: a backend reads a user's row only when that user is the context user or a member of
-- the context tenant, and a backend can no longer create the membership that would open it: memberships are
-- written only by the control plane or by these functions (owned by tenantgate_members, BYPASSRLS, each
-- checking the verified context itself):
--   accept_invitation(token)          the context user joins the context tenant through a pending, unexpired
--                                     invitation for its own e-mail (sha256(token) = token_hash); returns the role
--   set_member_role(user_id, role)    changes an existing member's role in the context tenant
--   remove_member(user_id)            removes a member from the context tenant
-- No foreign key lets a tenant probe another tenant's ids: invitations.invited_by_user_id (a key to the
-- global users) is filled from the context and not writable by the application role; memberships.user_id is
-- not writable by it at all.
--
-- audit_log: tenants see a per-tenant random event_id, never the global identity id (a count of every
-- tenant's events; with OVERRIDING SYSTEM VALUE it was also a probe of the key): the application role has
-- column privileges without id. actor_kind, actor_user_id and request_id of a row the application role
-- inserts come from the verified context (user when it names a uid, else system): left out, they are filled;
-- given and different, the insert is refused. Platform events are written by the platform (superuser).

SET LOCAL client_min_messages = warning;

SET LOCAL ROLE tenantgate_owner;

DO $$
BEGIN
    IF current_user <> 'tenantgate_owner' THEN
        RAISE EXCEPTION 'apply this file inside one transaction (SET LOCAL ROLE tenantgate_owner had no effect)';
    END IF;
    IF pg_catalog.to_regclass('tenantgate.audit_log') IS NULL
       OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'tenantgate_members') THEN
        RAISE EXCEPTION 'apply 0002_control_plane.sql and 0006_isolation.sql to this database first';
    END IF;
END
$$;

-- Membership functions --------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION tenantgate.accept_invitation(p_token text)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tid   uuid := tenantgate.current_tenant_id();
    uid   uuid := tenantgate.current_user_id();
    v_email text;
    inv     record;
BEGIN
    IF tid IS NULL OR uid IS NULL THEN
        RAISE EXCEPTION 'accept_invitation needs a verified context naming a user'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT u.email INTO v_email FROM tenantgate.users AS u WHERE u.id = uid;
    SELECT i.id, i.role_name INTO inv
      FROM tenantgate.invitations AS i
     WHERE i.tenant_id = tid AND i.token_hash = pg_catalog.sha256(pg_catalog.convert_to(p_token, 'UTF8'))
       AND i.email = v_email AND i.accepted_at IS NULL AND i.expires_at > pg_catalog.now()
     FOR UPDATE;
    IF inv.id IS NULL THEN
        RAISE EXCEPTION 'no pending invitation for this user and token' USING ERRCODE = 'no_data_found';
    END IF;
    INSERT INTO tenantgate.memberships (tenant_id, user_id, role_name) VALUES (tid, uid, inv.role_name)
    ON CONFLICT (tenant_id, user_id) DO UPDATE SET role_name = EXCLUDED.role_name;
    UPDATE tenantgate.invitations SET accepted_at = pg_catalog.now() WHERE tenant_id = tid AND id = inv.id;
    RETURN inv.role_name;
END
$$;

CREATE OR REPLACE FUNCTION tenantgate.set_member_role(p_user_id uuid, p_role text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tid uuid := tenantgate.current_tenant_id();
BEGIN
    IF tid IS NULL THEN
        RAISE EXCEPTION 'set_member_role needs a verified context' USING ERRCODE = 'insufficient_privilege';
    END IF;
    UPDATE tenantgate.memberships SET role_name = p_role WHERE tenant_id = tid AND user_id = p_user_id;
    RETURN FOUND;
END
$$;

CREATE OR REPLACE FUNCTION tenantgate.remove_member(p_user_id uuid)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tid uuid := tenantgate.current_tenant_id();
BEGIN
    IF tid IS NULL THEN
        RAISE EXCEPTION 'remove_member needs a verified context' USING ERRCODE = 'insufficient_privilege';
    END IF;
    DELETE FROM tenantgate.memberships WHERE tenant_id = tid AND user_id = p_user_id;
    RETURN FOUND;
END
$$;

REVOKE ALL ON TABLE tenantgate.users, tenantgate.memberships, tenantgate.invitations FROM tenantgate_members;
GRANT SELECT ON TABLE tenantgate.users TO tenantgate_members;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE tenantgate.memberships TO tenantgate_members;
GRANT SELECT, UPDATE ON TABLE tenantgate.invitations TO tenantgate_members;
GRANT USAGE ON SCHEMA tenantgate TO tenantgate_members;
GRANT CREATE ON SCHEMA tenantgate TO tenantgate_members;
ALTER FUNCTION tenantgate.accept_invitation(text)     OWNER TO tenantgate_members;
ALTER FUNCTION tenantgate.set_member_role(uuid, text) OWNER TO tenantgate_members;
ALTER FUNCTION tenantgate.remove_member(uuid)         OWNER TO tenantgate_members;
REVOKE CREATE ON SCHEMA tenantgate FROM tenantgate_members;

-- Tables: memberships and invitations' link to users no longer written by backends --------------------------------

REVOKE INSERT, UPDATE, DELETE ON TABLE tenantgate.memberships FROM tenantgate_app;

ALTER TABLE tenantgate.invitations ALTER COLUMN invited_by_user_id SET DEFAULT tenantgate.current_user_id();
REVOKE ALL ON TABLE tenantgate.invitations FROM tenantgate_app;
GRANT SELECT, DELETE ON TABLE tenantgate.invitations TO tenantgate_app;
GRANT INSERT (tenant_id, id, email, role_name, token_hash, expires_at),
      UPDATE (role_name, expires_at)
   ON TABLE tenantgate.invitations TO tenantgate_app;

-- audit_log: a per-tenant event id, column privileges without the global id, the actor from the context -----------

ALTER TABLE tenantgate.audit_log ADD COLUMN IF NOT EXISTS event_id uuid NOT NULL DEFAULT gen_random_uuid();
CREATE UNIQUE INDEX IF NOT EXISTS audit_log_tenant_event_key ON tenantgate.audit_log (tenant_id, event_id);

REVOKE ALL ON TABLE tenantgate.audit_log FROM tenantgate_app;
GRANT SELECT (event_id, tenant_id, actor_user_id, actor_kind, action, target, detail, request_id, created_at),
      INSERT (tenant_id, actor_user_id, actor_kind, action, target, detail, request_id)
   ON TABLE tenantgate.audit_log TO tenantgate_app;

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
    -- The platform (a superuser session: control-plane commands) writes what it states.
    IF coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = session_user), false) THEN
        RETURN NEW;
    END IF;
    uid  := tenantgate.current_user_id();
    kind := CASE WHEN uid IS NULL THEN 'system' ELSE 'user' END;
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
CREATE OR REPLACE TRIGGER audit_log_actor_from_context
    BEFORE INSERT ON tenantgate.audit_log
    FOR EACH ROW EXECUTE FUNCTION tenantgate.audit_log_actor_from_context();

-- Functions: default deny, then by duty --------------------------------------------------------------------------

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA tenantgate
    FROM PUBLIC, tenantgate_app, tenantgate_directory;

GRANT EXECUTE ON FUNCTION
    tenantgate.current_context(),
    tenantgate.current_tenant_id(),
    tenantgate.current_user_id(),
    tenantgate.current_placement(),
    tenantgate.current_request_id(),
    tenantgate.current_roles(),
    tenantgate.current_permissions(),
    tenantgate.has_permission(text),
    tenantgate.accept_invitation(text),
    tenantgate.set_member_role(uuid, text),
    tenantgate.remove_member(uuid)
TO tenantgate_app;

-- The membership functions run as tenantgate_members and read the verified context.
GRANT EXECUTE ON FUNCTION
    tenantgate.current_context(),
    tenantgate.current_tenant_id(),
    tenantgate.current_user_id()
TO tenantgate_members;

GRANT USAGE ON SCHEMA tenantgate TO tenantgate_directory;
GRANT EXECUTE ON FUNCTION
    tenantgate.resolve_tenant_by_slug(text),
    tenantgate.resolve_tenant_by_domain(text),
    tenantgate.resolve_tenant_by_id(uuid),
    tenantgate.ensure_user(text, text),
    tenantgate.effective_limits(uuid),
    tenantgate.monthly_usage(uuid, date),
    tenantgate.record_usage(jsonb)
TO tenantgate_directory;

DO $$
BEGIN
    PERFORM tenantgate_private.assert_tenant_isolation('tenantgate');
END
$$;
