-- 0001_roles_and_keys.sql: roles, schemas, context keys and the verified tenant context.
--
-- tenantgate:scope database
--   Apply once to every database tenantgate uses: the control-plane (shared) database and every database a
--   tenant_placements.database_target names. Needs a superuser (it creates roles and the pgcrypto extension).
--   Apply inside one transaction (the runner's BEGIN ... COMMIT, or `psql -1`): after the bootstrap part the
--   file switches to the owner with SET LOCAL ROLE, and refuses to continue if that did not take effect.
--
-- Roles (cluster-wide, created if missing, attributes re-asserted on every run; passwords are set elsewhere)
--   tenantgate_owner     NOLOGIN, owns every object; migrations run as it (SET LOCAL ROLE).
--   tenantgate_app       LOGIN; what components connect as. Not owner, not superuser, NOBYPASSRLS, member of
--                        no role; no CREATE on any schema, no TEMP, no TRUNCATE/REFERENCES/TRIGGER.
--   tenantgate_resolver  NOLOGIN, BYPASSRLS; owns only the tenantgate.resolve_tenant_by_*() functions (0002) and
--                        may only SELECT the three routing tables. FORCE ROW LEVEL SECURITY makes the owner
--                        subject to RLS (with no policy for it: it sees no tenant rows), so the host-lookup
--                        functions, which run before any tenant context exists, need a role of their own.
--
-- Tenant context (signed by the gateway, sent as x-tenant-context, bound by backends per transaction with
-- `SELECT set_config('tenantgate.context', $1, true)`):
--     v1.<kid>.<payload>.<sig>
--   kid      [A-Za-z0-9_-]{1,64}, names a row of tenantgate_private.context_keys
--   payload  base64url, no padding, of UTF-8 JSON
--            {"tid": uuid, "slug": dns-label, "plc": "shared"|"schema"|"dedicated", "uid": uuid|null,
--             "roles": [string], "perms": [string], "rid": string, "exp": unix seconds}
--   sig      base64url, no padding (43 chars), of HMAC-SHA256(key(kid), 'v1.<kid>.<payload>')
-- tenantgate.current_context() returns the verified claims, or NULL when the setting is missing, empty,
-- malformed, signed with an unknown or retired kid, badly signed, or expired (exp <= statement time).

SET LOCAL client_min_messages = warning;  -- no NOTICEs for the IF [NOT] EXISTS skips
SET LOCAL search_path = pg_catalog, pg_temp;  -- function bodies below bind to pg_catalog, whatever the runner had

DO $$
BEGIN
    IF NOT coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user), false) THEN
        RAISE EXCEPTION '0001_roles_and_keys.sql must be applied by a superuser (roles, pgcrypto)';
    END IF;
END
$$;

-- Roles ----------------------------------------------------------------------------------------------------

DO $$
DECLARE
    wanted text[] := ARRAY['tenantgate_owner', 'tenantgate_resolver', 'tenantgate_app'];
    r text;
BEGIN
    FOREACH r IN ARRAY wanted LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE pg_catalog.format('CREATE ROLE %I %s', r,
                                          CASE WHEN r = 'tenantgate_app' THEN 'LOGIN' ELSE 'NOLOGIN' END);
            EXCEPTION WHEN duplicate_object THEN
                NULL; -- created meanwhile by a runner migrating another database of the same cluster
            END;
        END IF;
    END LOOP;
END
$$;

ALTER ROLE tenantgate_owner    NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
ALTER ROLE tenantgate_resolver NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION BYPASSRLS NOINHERIT;
ALTER ROLE tenantgate_app              NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;

-- The owner may hand functions to the resolver (ALTER FUNCTION ... OWNER TO needs membership). Role attributes
-- such as BYPASSRLS are never inherited, and the owner can alter its own tables' RLS anyway.
GRANT tenantgate_resolver TO tenantgate_owner;

-- Fail closed on a cluster where the application role was given more than it may have.
DO $$
DECLARE
    app oid := (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = 'tenantgate_app');
    found text;
BEGIN
    SELECT pg_catalog.string_agg(g.rolname, ', ') INTO found
      FROM pg_catalog.pg_auth_members AS m JOIN pg_catalog.pg_roles AS g ON g.oid = m.roleid
     WHERE m.member = app;
    IF found IS NOT NULL THEN
        RAISE EXCEPTION 'tenantgate_app must not be a member of any role (it is a member of: %)', found;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE relowner = app)
       OR EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspowner = app)
       OR EXISTS (SELECT 1 FROM pg_catalog.pg_proc WHERE proowner = app)
       OR EXISTS (SELECT 1 FROM pg_catalog.pg_database WHERE datdba = app) THEN
        RAISE EXCEPTION 'tenantgate_app must not own objects in this database';
    END IF;
END
$$;

-- Database and schema rights ---------------------------------------------------------------------------------

DO $$
DECLARE
    db text := pg_catalog.current_database();
BEGIN
    EXECUTE pg_catalog.format('REVOKE ALL ON DATABASE %I FROM tenantgate_app, tenantgate_resolver', db);
    EXECUTE pg_catalog.format('GRANT CONNECT ON DATABASE %I TO tenantgate_app', db);
    -- No temporary objects for anyone but superusers: a temp table would outlive the request on a pooled
    -- connection and could carry one tenant's rows into the next tenant's request.
    EXECUTE pg_catalog.format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', db);
    -- The owner creates the per-tenant schemas (tenant_<slug>) of schema placements.
    EXECUTE pg_catalog.format('GRANT CONNECT, CREATE ON DATABASE %I TO tenantgate_owner', db);
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'public') THEN
        REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    END IF;
END
$$;

CREATE SCHEMA IF NOT EXISTS tenantgate AUTHORIZATION tenantgate_owner;
CREATE SCHEMA IF NOT EXISTS tenantgate_private AUTHORIZATION tenantgate_owner;
ALTER SCHEMA tenantgate OWNER TO tenantgate_owner;
ALTER SCHEMA tenantgate_private OWNER TO tenantgate_owner;
REVOKE ALL ON SCHEMA tenantgate, tenantgate_private FROM PUBLIC;
GRANT USAGE ON SCHEMA tenantgate TO tenantgate_app, tenantgate_resolver;
COMMENT ON SCHEMA tenantgate IS 'tenantgate control plane and the tenant-context functions';
COMMENT ON SCHEMA tenantgate_private IS 'context keys and their verification; tenantgate_app has no access';

-- pgcrypto for hmac(). Installed in the private schema unless this database already has it elsewhere; the
-- wrapper below calls it by its qualified name wherever it lives.
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA tenantgate_private;

-- Functions the owner creates are not executable by PUBLIC unless granted explicitly.
ALTER DEFAULT PRIVILEGES FOR ROLE tenantgate_owner REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- Everything below is created by, and owned by, the owner ------------------------------------------------------

SET LOCAL ROLE tenantgate_owner;

DO $$
BEGIN
    IF current_user <> 'tenantgate_owner' THEN
        RAISE EXCEPTION 'apply this file inside one transaction (SET LOCAL ROLE tenantgate_owner had no effect)';
    END IF;
END
$$;

CREATE TABLE IF NOT EXISTS tenantgate_private.context_keys (
    kid        text        NOT NULL,
    key        bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    retired_at timestamptz,
    CONSTRAINT context_keys_pkey PRIMARY KEY (kid),
    CONSTRAINT context_keys_kid_format CHECK (kid ~ '^[A-Za-z0-9_-]{1,64}$'),
    CONSTRAINT context_keys_key_length CHECK (octet_length(key) >= 32)
);
COMMENT ON TABLE tenantgate_private.context_keys IS
    'platform-scoped: HMAC-SHA256 keys for tenant-context tokens, by kid. A key verifies until retired_at. '
    'Written by the platform (never by migrations); unreadable by tenantgate_app.';
REVOKE ALL ON TABLE tenantgate_private.context_keys FROM PUBLIC;

-- hmac_sha256(data, key): pgcrypto's hmac() under a fixed, schema-qualified name. Its body is fully qualified
-- and it has no SET clause, so the planner can inline it into current_context (a SET clause would prevent that).
DO $$
DECLARE
    ext_schema text := (SELECT n.nspname
                          FROM pg_catalog.pg_extension AS e
                          JOIN pg_catalog.pg_namespace AS n ON n.oid = e.extnamespace
                         WHERE e.extname = 'pgcrypto');
BEGIN
    EXECUTE pg_catalog.format(
        $f$CREATE OR REPLACE FUNCTION tenantgate_private.hmac_sha256(data bytea, key bytea)
           RETURNS bytea LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
           AS 'SELECT %I.hmac(data, key, ''sha256'')'$f$, ext_schema);
END
$$;

-- The public face: what policies and backends call ----------------------------------------------------------

-- current_context(): the verified claims of the transaction's tenantgate.context token, else NULL. Never raises on
-- any input. The only SECURITY DEFINER step: runs as the owner, who may read the keys.
--
-- Policies call it once per statement per table (an InitPlan), and a request is usually one statement, so its
-- cost is paid on every query: ~45-55 us a call on PostgreSQL 15 here, nearly all of it per-transaction set-up
-- (plpgsql re-initialises every expression in each new transaction, the key lookup starts an executor, the SET
-- clause pushes a GUC level); the cryptography and JSON parsing are ~5 us of it. So it is written to do as little
-- as possible (see BENCHMARKS.md, "RLS vs explicit tenant filter"):
--   * one function: the verification used to sit in a second plpgsql function with its own SET clause;
--   * shape checks on the split token, octet lengths (no multibyte counting), no regexes, no translate();
--   * the key lookup and the signature comparison in one statement;
--   * the claims checked in one expression, the subtransaction (EXCEPTION block) entered only for a token whose
--     signature verified: a key holder's payload that is not base64url/UTF-8/JSON, or has a non-uuid tid or uid,
--     or a non-numeric exp, raises inside it and gives NULL.
-- Comparison: both signatures are hashed before comparing, so the comparison's timing says nothing about the
-- expected signature. textsend() gives the text's bytes: a token that can verify is ASCII (the kid names a row, whose
-- CHECK allows only [A-Za-z0-9_-]), where it equals convert_to(..., 'UTF8') in any server encoding.
CREATE OR REPLACE FUNCTION tenantgate.current_context()
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    token  text := pg_catalog.current_setting('tenantgate.context', true);
    part   text[];
    ok     boolean;
    claims jsonb;
BEGIN
    -- Shape: v1.<kid>.<payload>.<sig>, at most 4096 bytes, a 43-character (32-byte) signature, a payload length a
    -- base64 string can have. Missing (NULL) and empty ('' splits into no parts) fail here.
    IF pg_catalog.octet_length(token) <= 4096 THEN
        part := pg_catalog.string_to_array(token, '.');
    END IF;
    IF pg_catalog.cardinality(part) IS DISTINCT FROM 4 OR part[1] <> 'v1'
       OR pg_catalog.octet_length(part[2]) NOT BETWEEN 1 AND 64
       OR pg_catalog.octet_length(part[3]) < 2 OR pg_catalog.octet_length(part[3]) % 4 = 1
       OR pg_catalog.octet_length(part[4]) <> 43 THEN
        RETURN NULL;
    END IF;

    -- A live key of that kid, and the signature it gives 'v1.<kid>.<payload>' (base64url, no padding) is part[4].
    SELECT pg_catalog.sha256(pg_catalog.textsend(part[4]))
           = pg_catalog.sha256(pg_catalog.textsend(pg_catalog.rtrim(pg_catalog.replace(pg_catalog.replace(
                 pg_catalog.encode(tenantgate_private.hmac_sha256(
                     pg_catalog.textsend('v1.' || part[2] || '.' || part[3]), k.key), 'base64'),
                 '+', '-'), '/', '_'), '=')))
      INTO ok
      FROM tenantgate_private.context_keys AS k
     WHERE k.kid = part[2]
       AND (k.retired_at IS NULL OR k.retired_at > pg_catalog.statement_timestamp());
    IF ok IS NOT TRUE THEN
        RETURN NULL;
    END IF;

    -- Signed by a key holder from here on; a malformed payload is still refused (NULL), never raised. Claims that
    -- are not an object make every `->` NULL, hence false; a non-number exp, a non-uuid tid or uid raise.
    BEGIN
        claims := pg_catalog.convert_from(pg_catalog.decode(
                      pg_catalog.replace(pg_catalog.replace(part[3], '-', '+'), '_', '/')
                      || CASE pg_catalog.octet_length(part[3]) % 4 WHEN 2 THEN '==' WHEN 3 THEN '=' ELSE '' END,
                      'base64'), 'UTF8')::jsonb;
        IF NOT coalesce(
               (claims -> 'exp')::numeric > EXTRACT(epoch FROM pg_catalog.statement_timestamp())
           AND (claims ->> 'tid')::uuid IS NOT NULL
           AND (claims -> 'uid' IS NULL OR claims -> 'uid' = 'null'::jsonb OR (claims ->> 'uid')::uuid IS NOT NULL)
           AND pg_catalog.jsonb_typeof(claims -> 'slug') = 'string'
           AND (claims ->> 'plc') IN ('shared', 'schema', 'dedicated')
           AND pg_catalog.jsonb_typeof(claims -> 'roles') = 'array'
           AND pg_catalog.jsonb_typeof(claims -> 'perms') = 'array'
           AND pg_catalog.jsonb_typeof(claims -> 'rid') = 'string',
           false) THEN
            RETURN NULL;
        END IF;
    EXCEPTION WHEN data_exception THEN
        RETURN NULL;
    END;
    RETURN claims;
END
$fn$;
COMMENT ON FUNCTION tenantgate.current_context() IS
    'The verified claims of the transaction''s tenantgate.context token, or NULL (missing, empty, malformed, '
    'unknown or retired kid, bad signature, expired).';

-- Verification used to live in tenantgate_private.verify_context(text), called by current_context(); it is folded
-- into current_context() (one function call and one GUC level less per statement). Drop it on upgrade.
DROP FUNCTION IF EXISTS tenantgate_private.verify_context(text);

-- The helpers have SQL-standard bodies: parsed and bound when created (under the search_path this file pins),
-- so a caller's search_path cannot re-bind their operators, and the planner can inline them.
CREATE OR REPLACE FUNCTION tenantgate.current_tenant_id()
RETURNS uuid
LANGUAGE sql STABLE
RETURN (tenantgate.current_context() ->> 'tid')::uuid;
COMMENT ON FUNCTION tenantgate.current_tenant_id() IS
    'Tenant id of the verified context, or NULL. RLS policies call it as (SELECT tenantgate.current_tenant_id()).';

CREATE OR REPLACE FUNCTION tenantgate.current_user_id()
RETURNS uuid
LANGUAGE sql STABLE
RETURN (tenantgate.current_context() ->> 'uid')::uuid;

CREATE OR REPLACE FUNCTION tenantgate.current_placement()
RETURNS text
LANGUAGE sql STABLE
RETURN tenantgate.current_context() ->> 'plc';

CREATE OR REPLACE FUNCTION tenantgate.current_request_id()
RETURNS text
LANGUAGE sql STABLE
RETURN tenantgate.current_context() ->> 'rid';

CREATE OR REPLACE FUNCTION tenantgate.current_roles()
RETURNS text[]
LANGUAGE sql STABLE
RETURN ARRAY(SELECT jsonb_array_elements_text(tenantgate.current_context() -> 'roles'));

CREATE OR REPLACE FUNCTION tenantgate.current_permissions()
RETURNS text[]
LANGUAGE sql STABLE
RETURN ARRAY(SELECT jsonb_array_elements_text(tenantgate.current_context() -> 'perms'));

CREATE OR REPLACE FUNCTION tenantgate.has_permission(permission text)
RETURNS boolean
LANGUAGE sql STABLE
RETURN coalesce((tenantgate.current_context() -> 'perms') ? permission, false);

-- updated_at maintenance for every table with that column (control plane and tenant data).
CREATE OR REPLACE FUNCTION tenantgate.touch_updated_at()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.updated_at := pg_catalog.now();
    RETURN NEW;
END
$$;

-- assert_tenant_isolation(schema): raises unless every table of `target` with a tenant_id column has RLS
-- enabled and forced, exactly one policy (permissive, FOR ALL, TO tenantgate_app, USING = WITH CHECK on
-- tenantgate.current_tenant_id()), an index led by tenant_id, and grants no TRUNCATE/REFERENCES/TRIGGER to
-- the application role. Migrations end with it; `tenantgate audit isolation` checks far more.
CREATE OR REPLACE FUNCTION tenantgate_private.assert_tenant_isolation(target name)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    app      oid := (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = 'tenantgate_app');
    t        record;
    findings text[] := '{}';
BEGIN
    FOR t IN
        SELECT c.oid, c.relname, c.relrowsecurity, c.relforcerowsecurity, a.attnum
          FROM pg_catalog.pg_class AS c
          JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
          JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
         WHERE n.nspname = target AND c.relkind IN ('r', 'p')
    LOOP
        IF NOT (t.relrowsecurity AND t.relforcerowsecurity) THEN
            findings := findings || pg_catalog.format('%I.%I: RLS not enabled and forced', target, t.relname);
        END IF;
        IF (SELECT pg_catalog.count(*) FROM pg_catalog.pg_policy AS p WHERE p.polrelid = t.oid) <> 1
           OR NOT EXISTS (
               SELECT 1 FROM pg_catalog.pg_policy AS p
                WHERE p.polrelid = t.oid AND p.polcmd = '*' AND p.polpermissive
                  AND p.polroles = ARRAY[app]
                  AND pg_catalog.pg_get_expr(p.polqual, p.polrelid)
                      = pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid)
                  AND pg_catalog.pg_get_expr(p.polqual, p.polrelid)
                      = '(tenant_id = ( SELECT tenantgate.current_tenant_id() AS current_tenant_id))') THEN
            findings := findings || pg_catalog.format('%I.%I: not exactly one tenant policy', target, t.relname);
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index AS i WHERE i.indrelid = t.oid AND i.indkey[0] = t.attnum) THEN
            findings := findings || pg_catalog.format('%I.%I: no index led by tenant_id', target, t.relname);
        END IF;
        IF pg_catalog.has_table_privilege(app, t.oid, 'TRUNCATE')
           OR pg_catalog.has_table_privilege(app, t.oid, 'REFERENCES')
           OR pg_catalog.has_table_privilege(app, t.oid, 'TRIGGER') THEN
            findings := findings || pg_catalog.format('%I.%I: tenantgate_app holds TRUNCATE, REFERENCES or TRIGGER',
                                                      target, t.relname);
        END IF;
    END LOOP;
    IF pg_catalog.cardinality(findings) > 0 THEN
        RAISE EXCEPTION 'tenant isolation check failed: %', pg_catalog.array_to_string(findings, '; ');
    END IF;
END
$$;

-- Rights on the functions: the application role may call the context functions, nothing else here.
REVOKE ALL ON FUNCTION
    tenantgate_private.hmac_sha256(bytea, bytea),
    tenantgate_private.assert_tenant_isolation(name),
    tenantgate.touch_updated_at(),
    tenantgate.current_context(),
    tenantgate.current_tenant_id(),
    tenantgate.current_user_id(),
    tenantgate.current_placement(),
    tenantgate.current_request_id(),
    tenantgate.current_roles(),
    tenantgate.current_permissions(),
    tenantgate.has_permission(text)
FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
    tenantgate.current_context(),
    tenantgate.current_tenant_id(),
    tenantgate.current_user_id(),
    tenantgate.current_placement(),
    tenantgate.current_request_id(),
    tenantgate.current_roles(),
    tenantgate.current_permissions(),
    tenantgate.has_permission(text)
TO tenantgate_app;
