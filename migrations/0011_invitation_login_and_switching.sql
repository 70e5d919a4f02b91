-- 0011_invitation_login_and_switching.sql: accepting an invitation by signing in, and switching organisations
-- without a new login (issue 16).
--
-- tenantgate:scope control
--   Apply once, to the control-plane database, after 0010, inside one transaction. Runs as tenantgate_owner.
--
-- Invitations at login. Someone invited to a tenant is not a member yet, so they have no session there and
-- cannot call the organisation API's accept. The invitation link sends them through the tenant's own login
-- (`/auth/login?invitation=TOKEN`): the login flow keeps sha256(token) (sso_flows.invitation_hash), and
-- sso_login, for a user who is not yet a member, accepts a pending, unexpired, unrevoked invitation of this
-- tenant whose email is the email the provider asserted and verified, creating the membership with the
-- invitation's role (`invitation.accepted` in the tenant's audit log, with before and after as 0010 writes them). A bad invitation is outcome
-- `invitation_invalid` (one answer for unknown, used, expired, revoked and another email's), and nothing
-- changes. A member who follows an invitation link just signs in; the invitation stays pending.
--
-- Switching. switch_tickets holds single-use tickets (keyed hashes) that move a signed-in user from one tenant
-- to another they belong to:
--   switch_begin(from tenant, session, target slug, ticket hash, return path, ttl)
--       the user is the live session's (never a caller's claim); outcome ok (ticket stored), sso_required
--       (the target enforces SSO: its login, no ticket) or not_a_member (also for unknown, suspended and
--       deleted targets: one answer, no enumeration) or session_invalid.
--   switch_redeem(target tenant, ticket hash, session ttl)
--       takes the ticket (once), checks it is this tenant's, unexpired, the user still a member and the tenant
--       still not enforcing SSO, opens a session (issuer `tenantgate:switch`) and writes `session.switched` to
--       the target's audit log. Outcomes ok, invalid, sso_required.
-- Both are owned by tenantgate_members and callable by tenantgate_directory (the gateway) only.

SET LOCAL client_min_messages = warning;

SET LOCAL ROLE tenantgate_owner;

DO $$
BEGIN
    IF current_user <> 'tenantgate_owner' THEN
        RAISE EXCEPTION 'apply this file inside one transaction (SET LOCAL ROLE tenantgate_owner had no effect)';
    END IF;
    IF pg_catalog.to_regclass('tenantgate.sso_flows') IS NULL THEN
        RAISE EXCEPTION 'apply 0008_sso.sql to this database first';
    END IF;
END
$$;

-- Tables -----------------------------------------------------------------------------------------------------------

ALTER TABLE tenantgate.sso_flows ADD COLUMN IF NOT EXISTS invitation_hash bytea;
ALTER TABLE tenantgate.sso_flows DROP CONSTRAINT IF EXISTS sso_flows_invitation_hash_sha256;
ALTER TABLE tenantgate.sso_flows ADD CONSTRAINT sso_flows_invitation_hash_sha256
    CHECK (invitation_hash IS NULL OR octet_length(invitation_hash) = 32);

CREATE TABLE IF NOT EXISTS tenantgate.switch_tickets (
    tenant_id      uuid        NOT NULL,
    ticket_hash    bytea       NOT NULL,
    user_id        uuid        NOT NULL,
    from_tenant_id uuid        NOT NULL,
    return_to      text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    CONSTRAINT switch_tickets_pkey PRIMARY KEY (tenant_id, ticket_hash),
    CONSTRAINT switch_tickets_hash_key UNIQUE (ticket_hash),
    CONSTRAINT switch_tickets_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenantgate.tenants (id) ON DELETE CASCADE,
    CONSTRAINT switch_tickets_user_fkey FOREIGN KEY (user_id) REFERENCES tenantgate.users (id) ON DELETE CASCADE,
    CONSTRAINT switch_tickets_hash_length CHECK (octet_length(ticket_hash) = 32),
    CONSTRAINT switch_tickets_return_to_local CHECK (return_to LIKE '/%' AND return_to NOT LIKE '//%'
                                                     AND char_length(return_to) <= 2048)
);
COMMENT ON TABLE tenantgate.switch_tickets IS
    'tenant-scoped (the target tenant): single-use tickets moving a signed-in user to another of their tenants.';

ALTER TABLE tenantgate.switch_tickets ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenantgate.switch_tickets FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON tenantgate.switch_tickets;
CREATE POLICY tenant_isolation ON tenantgate.switch_tickets FOR ALL TO tenantgate_app
    USING (tenant_id = (SELECT tenantgate.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT tenantgate.current_tenant_id()));
REVOKE ALL ON TABLE tenantgate.switch_tickets FROM PUBLIC, tenantgate_app, tenantgate_directory;
GRANT SELECT, INSERT, DELETE ON TABLE tenantgate.switch_tickets TO tenantgate_members;
GRANT SELECT ON TABLE tenantgate.tenants TO tenantgate_members;

-- Login flows carry the invitation -----------------------------------------------------------------------------------

DROP FUNCTION IF EXISTS tenantgate.sso_begin(uuid, bytea, bytea, text, text, text, text, integer);
CREATE FUNCTION tenantgate.sso_begin(p_tenant uuid, p_state_hash bytea, p_binding_hash bytea,
                                     p_nonce text, p_verifier text, p_saml_request_id text,
                                     p_return_to text, p_ttl_seconds integer, p_invitation_hash bytea)
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH gone AS (
        DELETE FROM tenantgate.sso_flows AS f WHERE f.tenant_id = p_tenant AND f.expires_at < statement_timestamp()
    )
    INSERT INTO tenantgate.sso_flows (tenant_id, state_hash, binding_hash, nonce, code_verifier, saml_request_id,
                                      return_to, expires_at, invitation_hash)
    VALUES (p_tenant, p_state_hash, p_binding_hash, p_nonce, p_verifier, p_saml_request_id, p_return_to,
            statement_timestamp() + make_interval(secs => greatest(1, least(p_ttl_seconds, 3600))),
            p_invitation_hash)
    RETURNING true
$$;

DROP FUNCTION IF EXISTS tenantgate.sso_take(bytea);
CREATE FUNCTION tenantgate.sso_take(p_state_hash bytea)
RETURNS TABLE (tenant_id uuid, binding_hash bytea, nonce text, code_verifier text, saml_request_id text,
               return_to text, expired boolean, invitation_hash bytea)
LANGUAGE sql VOLATILE SECURITY DEFINER ROWS 1
SET search_path = pg_catalog, pg_temp
AS $$
    DELETE FROM tenantgate.sso_flows AS f
     WHERE f.state_hash = p_state_hash
    RETURNING f.tenant_id, f.binding_hash, f.nonce, f.code_verifier, f.saml_request_id, f.return_to,
              f.expires_at < statement_timestamp(), f.invitation_hash
$$;

-- sso_login, as in 0008, plus p_invitation_hash: a user who is not yet a member joins through a valid invitation
-- for the verified email the provider asserted (before just-in-time membership is considered).
DROP FUNCTION IF EXISTS tenantgate.sso_login(uuid, text, text, text, boolean, text, integer);
CREATE FUNCTION tenantgate.sso_login(p_tenant uuid, p_issuer text, p_subject text, p_email text,
                                     p_email_verified boolean, p_name text, p_ttl_seconds integer,
                                     p_invitation_hash bytea)
RETURNS TABLE (outcome text, session_id uuid, user_id uuid)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER ROWS 1
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    prov     tenantgate.sso_providers;
    uid      uuid;
    v_email  text := lower(nullif(btrim(p_email), ''));
    v_domain text;
    v_member boolean;
    created  boolean := false;
    inv      record;
    before   jsonb;
    sid      uuid;
BEGIN
    SELECT * INTO prov FROM tenantgate.sso_providers AS p WHERE p.tenant_id = p_tenant;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'no_provider'::text, NULL::uuid, NULL::uuid;
        RETURN;
    END IF;
    SELECT i.user_id INTO uid FROM tenantgate.user_identities AS i
     WHERE i.tenant_id = p_tenant AND i.issuer = p_issuer AND i.subject = p_subject;
    IF uid IS NULL AND (v_email IS NULL OR NOT coalesce(p_email_verified, false)) THEN
        RETURN QUERY SELECT 'email_not_verified'::text, NULL::uuid, NULL::uuid;
        RETURN;
    END IF;
    IF uid IS NULL THEN
        SELECT u.id INTO uid FROM tenantgate.users AS u WHERE u.email = v_email;
    END IF;
    v_member := uid IS NOT NULL AND EXISTS (
        SELECT 1 FROM tenantgate.memberships AS m WHERE m.tenant_id = p_tenant AND m.user_id = uid);
    IF NOT v_member AND p_invitation_hash IS NOT NULL THEN
        IF v_email IS NULL OR NOT coalesce(p_email_verified, false) THEN
            RETURN QUERY SELECT 'email_not_verified'::text, NULL::uuid, NULL::uuid;
            RETURN;
        END IF;
        SELECT i.id, i.email, i.role_name INTO inv
          FROM tenantgate.invitations AS i
         WHERE i.tenant_id = p_tenant AND i.token_hash = p_invitation_hash
           AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > statement_timestamp()
         FOR UPDATE;
        IF inv.id IS NULL OR inv.email IS DISTINCT FROM v_email THEN
            RETURN QUERY SELECT 'invitation_invalid'::text, NULL::uuid, NULL::uuid;
            RETURN;
        END IF;
        IF uid IS NULL THEN
            INSERT INTO tenantgate.users (email, display_name) VALUES (v_email, nullif(btrim(p_name), ''))
            ON CONFLICT (email) DO NOTHING RETURNING id INTO uid;
            IF uid IS NULL THEN
                SELECT u.id INTO uid FROM tenantgate.users AS u WHERE u.email = v_email;
            END IF;
        END IF;
        INSERT INTO tenantgate.memberships (tenant_id, user_id, role_name)
        VALUES (p_tenant, uid, inv.role_name)
        ON CONFLICT DO NOTHING;
        before := tenantgate.org_invitation_json(p_tenant, inv.id);
        UPDATE tenantgate.invitations AS i SET accepted_at = statement_timestamp()
         WHERE i.tenant_id = p_tenant AND i.id = inv.id;
        -- As the organisation API records it (0010), plus how: at login, through which provider.
        PERFORM tenantgate.org_audit(p_tenant, 'invitation.accepted', inv.id::text, before,
                                     tenantgate.org_invitation_json(p_tenant, inv.id)
                                         || jsonb_build_object('user_id', uid, 'member_role', inv.role_name,
                                                               'via', 'login', 'issuer', p_issuer),
                                     NULL);
        v_member := true;
    END IF;
    IF NOT v_member THEN
        v_domain := split_part(v_email, '@', 2);
        IF NOT prov.jit THEN
            RETURN QUERY SELECT 'not_a_member'::text, NULL::uuid, NULL::uuid;
            RETURN;
        END IF;
        IF v_email IS NULL OR NOT coalesce(p_email_verified, false) THEN
            RETURN QUERY SELECT 'email_not_verified'::text, NULL::uuid, NULL::uuid;
            RETURN;
        END IF;
        IF v_domain = '' OR NOT EXISTS (
               SELECT 1 FROM tenantgate.tenant_domains AS d
                WHERE d.tenant_id = p_tenant AND d.domain = v_domain
                  AND d.verified_at IS NOT NULL AND d.revoked_at IS NULL)
           OR (cardinality(prov.allowed_email_domains) > 0 AND NOT v_domain = ANY (prov.allowed_email_domains)) THEN
            RETURN QUERY SELECT 'email_domain_not_allowed'::text, NULL::uuid, NULL::uuid;
            RETURN;
        END IF;
        IF uid IS NULL THEN
            INSERT INTO tenantgate.users (email, display_name) VALUES (v_email, nullif(btrim(p_name), ''))
            ON CONFLICT (email) DO NOTHING RETURNING id INTO uid;
            IF uid IS NULL THEN
                SELECT u.id INTO uid FROM tenantgate.users AS u WHERE u.email = v_email;
            END IF;
        END IF;
        INSERT INTO tenantgate.memberships (tenant_id, user_id, role_name)
        VALUES (p_tenant, uid, prov.default_role)
        ON CONFLICT DO NOTHING;
        created := true;
    END IF;
    INSERT INTO tenantgate.user_identities (tenant_id, issuer, subject, user_id, last_login_at)
    VALUES (p_tenant, p_issuer, p_subject, uid, statement_timestamp())
    ON CONFLICT ON CONSTRAINT user_identities_pkey DO UPDATE SET last_login_at = excluded.last_login_at;
    INSERT INTO tenantgate.sessions (tenant_id, user_id, issuer, expires_at)
    VALUES (p_tenant, uid, p_issuer,
            statement_timestamp() + make_interval(secs => greatest(60, least(p_ttl_seconds, 7 * 86400))))
    RETURNING id INTO sid;
    IF created THEN
        INSERT INTO tenantgate.audit_log (tenant_id, actor_kind, action, target, detail)
        VALUES (p_tenant, 'system', 'member.jit_created', uid::text,
                jsonb_build_object('user_id', uid, 'email', v_email, 'role', prov.default_role, 'issuer', p_issuer));
    END IF;
    INSERT INTO tenantgate.audit_log (tenant_id, actor_kind, action, target, detail)
    VALUES (p_tenant, 'system', 'sso.login', uid::text,
            jsonb_build_object('user_id', uid, 'issuer', p_issuer, 'subject', p_subject, 'session_id', sid));
    RETURN QUERY SELECT 'ok'::text, sid, uid;
END
$$;

-- Switching --------------------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION tenantgate.switch_begin(p_from_tenant uuid, p_session uuid, p_to_slug text,
                                                   p_ticket_hash bytea, p_return_to text, p_ttl_seconds integer)
RETURNS TABLE (outcome text, target_tenant uuid)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER ROWS 1
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    uid    uuid;
    target uuid;
BEGIN
    SELECT s.user_id INTO uid
      FROM tenantgate.sessions AS s
      JOIN tenantgate.memberships AS m ON m.tenant_id = s.tenant_id AND m.user_id = s.user_id
     WHERE s.id = p_session AND s.tenant_id = p_from_tenant
       AND s.revoked_at IS NULL AND s.expires_at > statement_timestamp();
    IF uid IS NULL THEN
        RETURN QUERY SELECT 'session_invalid'::text, NULL::uuid;
        RETURN;
    END IF;
    SELECT t.id INTO target
      FROM tenantgate.tenants AS t
      JOIN tenantgate.memberships AS m ON m.tenant_id = t.id AND m.user_id = uid
     WHERE t.slug = p_to_slug AND t.status = 'active';
    IF target IS NULL THEN
        RETURN QUERY SELECT 'not_a_member'::text, NULL::uuid;
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM tenantgate.sso_providers AS p WHERE p.tenant_id = target AND p.enforced) THEN
        RETURN QUERY SELECT 'sso_required'::text, target;
        RETURN;
    END IF;
    DELETE FROM tenantgate.switch_tickets AS k WHERE k.tenant_id = target AND k.expires_at < statement_timestamp();
    INSERT INTO tenantgate.switch_tickets (tenant_id, ticket_hash, user_id, from_tenant_id, return_to, expires_at)
    VALUES (target, p_ticket_hash, uid, p_from_tenant, p_return_to,
            statement_timestamp() + make_interval(secs => greatest(1, least(p_ttl_seconds, 300))));
    RETURN QUERY SELECT 'ok'::text, target;
END
$$;

CREATE OR REPLACE FUNCTION tenantgate.switch_redeem(p_tenant uuid, p_ticket_hash bytea, p_ttl_seconds integer)
RETURNS TABLE (outcome text, session_id uuid, user_id uuid, return_to text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER ROWS 1
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k   tenantgate.switch_tickets;
    sid uuid;
BEGIN
    DELETE FROM tenantgate.switch_tickets AS t WHERE t.ticket_hash = p_ticket_hash RETURNING * INTO k;
    IF k.ticket_hash IS NULL OR k.tenant_id <> p_tenant OR k.expires_at < statement_timestamp()
       OR NOT EXISTS (SELECT 1 FROM tenantgate.memberships AS m WHERE m.tenant_id = p_tenant AND m.user_id = k.user_id)
       OR NOT EXISTS (SELECT 1 FROM tenantgate.tenants AS t WHERE t.id = p_tenant AND t.status = 'active') THEN
        RETURN QUERY SELECT 'invalid'::text, NULL::uuid, NULL::uuid, NULL::text;
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM tenantgate.sso_providers AS p WHERE p.tenant_id = p_tenant AND p.enforced) THEN
        RETURN QUERY SELECT 'sso_required'::text, NULL::uuid, NULL::uuid, k.return_to;
        RETURN;
    END IF;
    INSERT INTO tenantgate.sessions (tenant_id, user_id, issuer, expires_at)
    VALUES (p_tenant, k.user_id, 'tenantgate:switch',
            statement_timestamp() + make_interval(secs => greatest(60, least(p_ttl_seconds, 7 * 86400))))
    RETURNING id INTO sid;
    INSERT INTO tenantgate.audit_log (tenant_id, actor_kind, action, target, detail)
    VALUES (p_tenant, 'system', 'session.switched', k.user_id::text,
            jsonb_build_object('user_id', k.user_id, 'session_id', sid));
    RETURN QUERY SELECT 'ok'::text, sid, k.user_id, k.return_to;
END
$$;

-- Ownership and rights ---------------------------------------------------------------------------------------------

GRANT CREATE ON SCHEMA tenantgate TO tenantgate_members;
ALTER FUNCTION tenantgate.sso_begin(uuid, bytea, bytea, text, text, text, text, integer, bytea)
    OWNER TO tenantgate_members;
ALTER FUNCTION tenantgate.sso_take(bytea) OWNER TO tenantgate_members;
ALTER FUNCTION tenantgate.sso_login(uuid, text, text, text, boolean, text, integer, bytea) OWNER TO tenantgate_members;
ALTER FUNCTION tenantgate.switch_begin(uuid, uuid, text, bytea, text, integer) OWNER TO tenantgate_members;
ALTER FUNCTION tenantgate.switch_redeem(uuid, bytea, integer) OWNER TO tenantgate_members;
REVOKE CREATE ON SCHEMA tenantgate FROM tenantgate_members;

REVOKE ALL ON FUNCTION
    tenantgate.sso_begin(uuid, bytea, bytea, text, text, text, text, integer, bytea),
    tenantgate.sso_take(bytea),
    tenantgate.sso_login(uuid, text, text, text, boolean, text, integer, bytea),
    tenantgate.switch_begin(uuid, uuid, text, bytea, text, integer),
    tenantgate.switch_redeem(uuid, bytea, integer)
FROM PUBLIC, tenantgate_app;
GRANT EXECUTE ON FUNCTION
    tenantgate.sso_begin(uuid, bytea, bytea, text, text, text, text, integer, bytea),
    tenantgate.sso_take(bytea),
    tenantgate.sso_login(uuid, text, text, text, boolean, text, integer, bytea),
    tenantgate.switch_begin(uuid, uuid, text, bytea, text, integer),
    tenantgate.switch_redeem(uuid, bytea, integer)
TO tenantgate_directory;

DO $$
BEGIN
    PERFORM tenantgate_private.assert_tenant_isolation('tenantgate');
END
$$;
