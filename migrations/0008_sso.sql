-- 0008_sso.sql: per-tenant single sign-on (OIDC, SAML), login flows, gateway sessions, just-in-time membership
-- (issue 15).
--
-- tenantgate:scope control
--   Apply once, to the control-plane database, after 0007, inside one transaction. Runs as tenantgate_owner.
--
-- Tables (tenant-scoped, RLS like every other; tenantgate_app holds no right on any of them):
--   sso_providers   one identity provider per tenant: its settings, the client secret, and the keys / metadata the
--                   control plane fetched (`tenantgate sso refresh`), with when. Written only by the control plane.
--   user_identities who a provider says a user is: (tenant, issuer, subject) -> user. A tenant's provider vouches
--                   only for identities it created, so an IdP configured for one tenant never logs anyone into
--                   another tenant's identities.
--   sso_flows       logins in progress: hashes of the `state` and of the browser-binding cookie, the nonce, the
--                   PKCE verifier, the return path. Taken (deleted) exactly once by the callback.
--   saml_replay     assertion ids seen, until their NotOnOrAfter.
--   sessions        gateway sessions; the cookie names one. A session is live while unrevoked, unexpired and its
--                   user is still a member of its tenant (so removing a member ends their sessions).
--
-- Functions (owned by tenantgate_members, which writes memberships, BYPASSRLS; callable by tenantgate_directory,
-- the gateway's role, only): sso_mode, sso_provider, sso_begin, sso_take, sso_login, saml_seen, session_state,
-- session_end.

SET LOCAL client_min_messages = warning;

SET LOCAL ROLE tenantgate_owner;

DO $$
BEGIN
    IF current_user <> 'tenantgate_owner' THEN
        RAISE EXCEPTION 'apply this file inside one transaction (SET LOCAL ROLE tenantgate_owner had no effect)';
    END IF;
    IF pg_catalog.to_regclass('tenantgate.audit_log') IS NULL
       OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'tenantgate_members') THEN
        RAISE EXCEPTION 'apply 0002 and 0006 to this database first';
    END IF;
END
$$;

-- Tables -----------------------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS tenantgate.sso_providers (
    tenant_id              uuid        NOT NULL,
    kind                   text        NOT NULL,
    display_name           text        NOT NULL,
    -- OIDC
    issuer                 text,
    client_id              text,
    client_secret          text,
    scopes                 text[]      NOT NULL DEFAULT ARRAY['openid', 'email', 'profile'],
    authorization_endpoint text,
    token_endpoint         text,
    jwks                   jsonb,
    iss_parameter          boolean     NOT NULL DEFAULT true,
    -- SAML
    idp_entity_id          text,
    sso_url                text,
    certificates           bytea[],
    metadata_url           text,
    allow_idp_initiated    boolean     NOT NULL DEFAULT false,
    -- Policy
    allowed_email_domains  text[]      NOT NULL DEFAULT '{}',
    enforced               boolean     NOT NULL DEFAULT false,
    jit                    boolean     NOT NULL DEFAULT true,
    default_role           text        NOT NULL DEFAULT 'member',
    keys_refreshed_at      timestamptz,
    refresh_error          text,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sso_providers_pkey PRIMARY KEY (tenant_id),
    CONSTRAINT sso_providers_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenantgate.tenants (id) ON DELETE CASCADE,
    CONSTRAINT sso_providers_role_fkey FOREIGN KEY (tenant_id, default_role)
        REFERENCES tenantgate.roles (tenant_id, name) ON UPDATE CASCADE,
    CONSTRAINT sso_providers_kind CHECK (kind IN ('oidc', 'saml')),
    CONSTRAINT sso_providers_oidc CHECK (kind <> 'oidc' OR (issuer IS NOT NULL AND client_id IS NOT NULL)),
    CONSTRAINT sso_providers_saml CHECK (kind <> 'saml' OR idp_entity_id IS NOT NULL),
    CONSTRAINT sso_providers_display_name CHECK (char_length(display_name) BETWEEN 1 AND 100)
);
COMMENT ON TABLE tenantgate.sso_providers IS
    'tenant-scoped: the tenant''s identity provider (OIDC or SAML), its secret and fetched keys; control plane only.';

CREATE TABLE IF NOT EXISTS tenantgate.user_identities (
    tenant_id     uuid        NOT NULL,
    issuer        text        NOT NULL,
    subject       text        NOT NULL,
    user_id       uuid        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz,
    CONSTRAINT user_identities_pkey PRIMARY KEY (tenant_id, issuer, subject),
    CONSTRAINT user_identities_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenantgate.tenants (id) ON DELETE CASCADE,
    CONSTRAINT user_identities_user_fkey FOREIGN KEY (user_id) REFERENCES tenantgate.users (id) ON DELETE CASCADE
);
COMMENT ON TABLE tenantgate.user_identities IS
    'tenant-scoped: (issuer, subject) as the tenant''s own IdP asserted it -> user.';
CREATE INDEX IF NOT EXISTS user_identities_user_idx ON tenantgate.user_identities (user_id);

CREATE TABLE IF NOT EXISTS tenantgate.sso_flows (
    tenant_id       uuid        NOT NULL,
    state_hash      bytea       NOT NULL,
    binding_hash    bytea       NOT NULL,
    nonce           text        NOT NULL,
    code_verifier   text,
    saml_request_id text,
    return_to       text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    CONSTRAINT sso_flows_pkey PRIMARY KEY (tenant_id, state_hash),
    CONSTRAINT sso_flows_state_key UNIQUE (state_hash),
    CONSTRAINT sso_flows_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenantgate.tenants (id) ON DELETE CASCADE,
    CONSTRAINT sso_flows_hashes CHECK (octet_length(state_hash) = 32 AND octet_length(binding_hash) = 32)
);
COMMENT ON TABLE tenantgate.sso_flows IS 'tenant-scoped: logins in progress, each taken once by its callback.';

CREATE TABLE IF NOT EXISTS tenantgate.saml_replay (
    tenant_id      uuid        NOT NULL,
    issuer         text        NOT NULL,
    assertion_id   text        NOT NULL,
    not_on_or_after timestamptz NOT NULL,
    CONSTRAINT saml_replay_pkey PRIMARY KEY (tenant_id, issuer, assertion_id),
    CONSTRAINT saml_replay_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenantgate.tenants (id) ON DELETE CASCADE
);
COMMENT ON TABLE tenantgate.saml_replay IS 'tenant-scoped: SAML assertion ids seen, kept until NotOnOrAfter.';

CREATE TABLE IF NOT EXISTS tenantgate.sessions (
    tenant_id  uuid        NOT NULL,
    id         uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id    uuid        NOT NULL,
    issuer     text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    CONSTRAINT sessions_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT sessions_id_key UNIQUE (id),
    CONSTRAINT sessions_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenantgate.tenants (id) ON DELETE CASCADE,
    CONSTRAINT sessions_user_fkey FOREIGN KEY (user_id) REFERENCES tenantgate.users (id) ON DELETE CASCADE
);
COMMENT ON TABLE tenantgate.sessions IS
    'tenant-scoped: gateway sessions; live while unrevoked, unexpired and the user is a member of the tenant.';
CREATE INDEX IF NOT EXISTS sessions_user_idx ON tenantgate.sessions (user_id);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['sso_providers', 'user_identities', 'sso_flows', 'saml_replay', 'sessions'] LOOP
        EXECUTE pg_catalog.format('ALTER TABLE tenantgate.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format('ALTER TABLE tenantgate.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format('DROP POLICY IF EXISTS tenant_isolation ON tenantgate.%I', t);
        EXECUTE pg_catalog.format(
            'CREATE POLICY tenant_isolation ON tenantgate.%I FOR ALL TO tenantgate_app '
            'USING (tenant_id = (SELECT tenantgate.current_tenant_id())) '
            'WITH CHECK (tenant_id = (SELECT tenantgate.current_tenant_id()))', t);
        EXECUTE pg_catalog.format('REVOKE ALL ON TABLE tenantgate.%I FROM PUBLIC, tenantgate_app, tenantgate_directory', t);
    END LOOP;
END
$$;

DROP TRIGGER IF EXISTS sso_providers_touch ON tenantgate.sso_providers;
CREATE TRIGGER sso_providers_touch BEFORE UPDATE ON tenantgate.sso_providers
    FOR EACH ROW EXECUTE FUNCTION tenantgate.touch_updated_at();

-- What the functions' owner may touch.
GRANT SELECT ON TABLE tenantgate.sso_providers, tenantgate.tenant_domains, tenantgate.roles,
                      tenantgate.role_permissions TO tenantgate_members;
GRANT SELECT, INSERT, UPDATE ON TABLE tenantgate.user_identities, tenantgate.sessions TO tenantgate_members;
GRANT SELECT, INSERT, DELETE ON TABLE tenantgate.sso_flows, tenantgate.saml_replay TO tenantgate_members;
GRANT INSERT ON TABLE tenantgate.users TO tenantgate_members;
GRANT INSERT (tenant_id, actor_kind, action, target, detail) ON TABLE tenantgate.audit_log TO tenantgate_members;
-- The audit trigger reads the (absent) context's request id as the function owner.
GRANT EXECUTE ON FUNCTION tenantgate.current_request_id() TO tenantgate_members;

-- Functions --------------------------------------------------------------------------------------------------------

-- sso_mode(tenant): 'none' (no provider), 'sso' (login offered) or 'enforced' (the only way in). Read with the
-- tenant and cached like it, so a change is in effect everywhere within the tenant cache's bound.
CREATE OR REPLACE FUNCTION tenantgate.sso_mode(p_tenant uuid)
RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT CASE WHEN p.enforced THEN 'enforced' ELSE 'sso' END
                       FROM tenantgate.sso_providers AS p WHERE p.tenant_id = p_tenant), 'none')
$$;

-- sso_provider(tenant): what a login needs. keys_age is the age in seconds of the keys / metadata the control
-- plane fetched (NULL: never fetched; 0 for SAML certificates an operator set by hand); the gateway refuses logins
-- past its bound.
CREATE OR REPLACE FUNCTION tenantgate.sso_provider(p_tenant uuid)
RETURNS TABLE (kind text, display_name text, issuer text, client_id text, client_secret text, scopes text,
               authorization_endpoint text, token_endpoint text, jwks text, iss_parameter boolean, keys_age bigint,
               idp_entity_id text, sso_url text, certificates text, allow_idp_initiated boolean)
LANGUAGE sql STABLE SECURITY DEFINER ROWS 1
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT p.kind, p.display_name, p.issuer, p.client_id, p.client_secret, array_to_string(p.scopes, ' '),
           p.authorization_endpoint, p.token_endpoint, p.jwks::text, p.iss_parameter,
           CASE WHEN p.kind = 'saml' AND p.metadata_url IS NULL THEN 0  -- certificates set by hand do not age
                ELSE floor(EXTRACT(epoch FROM statement_timestamp() - p.keys_refreshed_at))::bigint END,
           p.idp_entity_id, p.sso_url,
           (SELECT string_agg(encode(c, 'base64'), ',') FROM unnest(p.certificates) AS c),
           p.allow_idp_initiated
      FROM tenantgate.sso_providers AS p
     WHERE p.tenant_id = p_tenant
$$;

-- sso_begin: records a login in progress (and clears this tenant's expired ones).
CREATE OR REPLACE FUNCTION tenantgate.sso_begin(p_tenant uuid, p_state_hash bytea, p_binding_hash bytea,
                                                p_nonce text, p_verifier text, p_saml_request_id text,
                                                p_return_to text, p_ttl_seconds integer)
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH gone AS (
        DELETE FROM tenantgate.sso_flows AS f WHERE f.tenant_id = p_tenant AND f.expires_at < statement_timestamp()
    )
    INSERT INTO tenantgate.sso_flows (tenant_id, state_hash, binding_hash, nonce, code_verifier, saml_request_id,
                                      return_to, expires_at)
    VALUES (p_tenant, p_state_hash, p_binding_hash, p_nonce, p_verifier, p_saml_request_id, p_return_to,
            statement_timestamp() + make_interval(secs => greatest(1, least(p_ttl_seconds, 3600))))
    RETURNING true
$$;

-- sso_take: the login in progress for this state, removed in the same statement (so a state works once).
CREATE OR REPLACE FUNCTION tenantgate.sso_take(p_state_hash bytea)
RETURNS TABLE (tenant_id uuid, binding_hash bytea, nonce text, code_verifier text, saml_request_id text,
               return_to text, expired boolean)
LANGUAGE sql VOLATILE SECURITY DEFINER ROWS 1
SET search_path = pg_catalog, pg_temp
AS $$
    DELETE FROM tenantgate.sso_flows AS f
     WHERE f.state_hash = p_state_hash
    RETURNING f.tenant_id, f.binding_hash, f.nonce, f.code_verifier, f.saml_request_id, f.return_to,
              f.expires_at < statement_timestamp()
$$;

-- saml_seen: true the first time (tenant, issuer, assertion id) is seen; remembered until p_until.
CREATE OR REPLACE FUNCTION tenantgate.saml_seen(p_tenant uuid, p_issuer text, p_assertion_id text,
                                                p_until timestamptz)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    fresh boolean;
BEGIN
    DELETE FROM tenantgate.saml_replay AS r
     WHERE r.tenant_id = p_tenant AND r.not_on_or_after < statement_timestamp() - interval '10 minutes';
    INSERT INTO tenantgate.saml_replay (tenant_id, issuer, assertion_id, not_on_or_after)
    VALUES (p_tenant, p_issuer, p_assertion_id, p_until)
    ON CONFLICT DO NOTHING
    RETURNING true INTO fresh;
    RETURN coalesce(fresh, false);
END
$$;

-- sso_login: a verified login by the tenant's own provider. The user is found by (tenant, issuer, subject); a
-- first login links by a verified email to an existing user, and becomes a member (with the provider's default
-- role) only when just-in-time membership is on and the email's domain is a verified, unrevoked domain of this
-- tenant (and in the provider's allowed list when it has one). Outcomes: ok, email_not_verified,
-- email_domain_not_allowed, not_a_member, no_provider. On ok a session is opened for p_ttl_seconds.
CREATE OR REPLACE FUNCTION tenantgate.sso_login(p_tenant uuid, p_issuer text, p_subject text, p_email text,
                                                p_email_verified boolean, p_name text, p_ttl_seconds integer)
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

-- session_state(session): the session's tenant, user, role and permissions while it is live; no row otherwise.
CREATE OR REPLACE FUNCTION tenantgate.session_state(p_session uuid)
RETURNS TABLE (tenant_id uuid, user_id uuid, role_name text, permissions text, expires_in bigint)
LANGUAGE sql STABLE SECURITY DEFINER ROWS 1
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT s.tenant_id, s.user_id, m.role_name,
           (SELECT string_agg(rp.permission, ' ' ORDER BY rp.permission) FROM tenantgate.role_permissions AS rp
             WHERE rp.tenant_id = m.tenant_id AND rp.role_name = m.role_name),
           floor(EXTRACT(epoch FROM s.expires_at - statement_timestamp()))::bigint
      FROM tenantgate.sessions AS s
      JOIN tenantgate.memberships AS m ON m.tenant_id = s.tenant_id AND m.user_id = s.user_id
     WHERE s.id = p_session AND s.revoked_at IS NULL AND s.expires_at > statement_timestamp()
$$;

-- session_end(session): revokes it (logout). True when it was live.
CREATE OR REPLACE FUNCTION tenantgate.session_end(p_session uuid)
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH ended AS (
        UPDATE tenantgate.sessions AS s SET revoked_at = statement_timestamp()
         WHERE s.id = p_session AND s.revoked_at IS NULL
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM ended)
$$;

-- Ownership and rights: owned by tenantgate_members (BYPASSRLS), callable by the gateway's role only.
GRANT CREATE ON SCHEMA tenantgate TO tenantgate_members;
ALTER FUNCTION tenantgate.sso_mode(uuid) OWNER TO tenantgate_members;
ALTER FUNCTION tenantgate.sso_provider(uuid) OWNER TO tenantgate_members;
ALTER FUNCTION tenantgate.sso_begin(uuid, bytea, bytea, text, text, text, text, integer) OWNER TO tenantgate_members;
ALTER FUNCTION tenantgate.sso_take(bytea) OWNER TO tenantgate_members;
ALTER FUNCTION tenantgate.saml_seen(uuid, text, text, timestamptz) OWNER TO tenantgate_members;
ALTER FUNCTION tenantgate.sso_login(uuid, text, text, text, boolean, text, integer) OWNER TO tenantgate_members;
ALTER FUNCTION tenantgate.session_state(uuid) OWNER TO tenantgate_members;
ALTER FUNCTION tenantgate.session_end(uuid) OWNER TO tenantgate_members;
REVOKE CREATE ON SCHEMA tenantgate FROM tenantgate_members;

REVOKE ALL ON FUNCTION
    tenantgate.sso_mode(uuid),
    tenantgate.sso_provider(uuid),
    tenantgate.sso_begin(uuid, bytea, bytea, text, text, text, text, integer),
    tenantgate.sso_take(bytea),
    tenantgate.saml_seen(uuid, text, text, timestamptz),
    tenantgate.sso_login(uuid, text, text, text, boolean, text, integer),
    tenantgate.session_state(uuid),
    tenantgate.session_end(uuid)
FROM PUBLIC, tenantgate_app;
GRANT EXECUTE ON FUNCTION
    tenantgate.sso_mode(uuid),
    tenantgate.sso_provider(uuid),
    tenantgate.sso_begin(uuid, bytea, bytea, text, text, text, text, integer),
    tenantgate.sso_take(bytea),
    tenantgate.saml_seen(uuid, text, text, timestamptz),
    tenantgate.sso_login(uuid, text, text, text, boolean, text, integer),
    tenantgate.session_state(uuid),
    tenantgate.session_end(uuid)
TO tenantgate_directory;

DO $$
BEGIN
    PERFORM tenantgate_private.assert_tenant_isolation('tenantgate');
END
$$;
