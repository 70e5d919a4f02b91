-- 0009_context_v2.sql: a cheaper unforgeable tenant context (issue 12 item 5).
--
-- tenantgate:scope database
--   Apply to every database tenantgate uses, after 0001 and 0006, inside one transaction, as a superuser (the
--   runner's connection; it only needs the owner role, like the control files). Runs as tenantgate_owner.
--
-- The context token is now fixed-format text, verified by plain SQL with the built-in sha256() (no pgcrypto, no
-- base64, no JSON, no plpgsql on the verification itself):
--
--     v2~<kid>~<exp>~<tid>~<uid>~<rid>~<plc>~<db>~<sch>~<slug>~<roles>~<perms>~<ro>~<sig>
--
--   kid     [A-Za-z0-9_-]{1,64}, names a row of tenantgate_private.context_keys
--   exp     unix seconds, decimal; the token verifies while statement_timestamp() < exp
--   tid     the tenant's uuid (hyphenated); uid the user's uuid or empty
--   rid     the request id ([A-Za-z0-9._:-]{1,128}); plc shared|schema|dedicated; db, sch the placement's
--           database target and schema or empty (backends read them; Postgres ignores them); slug the tenant's
--   roles   role names joined by ','; perms permissions (area.action) joined by ','; either may be empty
--   ro      '1' while the tenant is read-only (moving), else empty
--   sig     64 lower-case hex digits: HMAC-SHA256(key(kid), every byte of the token before sig, including the
--           '~' in front of it)
--   No field can hold '~' or ',' (the gateway's types refuse them), so the token needs no escaping.
--
-- tenantgate.context_v2, a security-barrier view owned by tenantgate_owner (so it reads the keys with the owner's
-- rights; tenantgate_app may read the view, never the keys), returns one row of verified claims, or no row when
-- the setting is missing, empty, of another shape, names an unknown or retired kid, is badly signed, or expired.
-- The HMAC uses the key's inner and outer pads, stored as generated columns of context_keys, so a statement pays
-- two sha256() calls. Casts (exp to bigint, tid and uid to uuid) happen only after the signature matched: inside
-- a CASE for exp, and in the view's output for the ids, which the executor evaluates only for a row that passed
-- the WHERE clause (the view is a security barrier, so no outer condition runs before it). Unsigned input can
-- therefore never raise: it gives no row. A token a key holder signed with a non-numeric exp or a non-uuid tid
-- raises a data exception (never rows): only the gateway holds the key, and its signer cannot build one.
--
-- The functions keep their names, signatures and grants (policies, column defaults, the audit trigger and the
-- membership functions call them unchanged); each is now a one-statement plpgsql function over the view (no
-- SECURITY DEFINER, no SET clause, every name qualified). A plpgsql body keeps its plan for the session, so
-- current_tenant_id() costs one execution of the view's plan; a SQL-language function with a sub-select is
-- re-planned on every call (hundreds of microseconds, measured), and cannot be inlined. v1 tokens
-- (v1.<kid>.<base64 JSON>.<sig>) no longer verify: apply this file and deploy the gateway that signs v2 together.
--
-- Comparison of the signature: the hex text of the expected MAC is compared with the token's sig by texteq
-- (memcmp). glibc's memcmp compares 16- or 32-byte blocks, so its timing can at most tell which half of the
-- 64-character signature differs, never walk it character by character; the old double sha256() before the
-- comparison cost two more hash calls per statement.

SET LOCAL client_min_messages = warning;  -- no NOTICEs for the IF [NOT] EXISTS skips
SET LOCAL search_path = pg_catalog, pg_temp;  -- the view and function bodies bind to pg_catalog

SET LOCAL ROLE tenantgate_owner;

DO $$
BEGIN
    IF current_user <> 'tenantgate_owner' THEN
        RAISE EXCEPTION 'apply this file inside one transaction (SET LOCAL ROLE tenantgate_owner had no effect)';
    END IF;
    IF pg_catalog.to_regclass('tenantgate_private.context_keys') IS NULL
       OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'tenantgate_members') THEN
        RAISE EXCEPTION 'apply 0001_roles_and_keys.sql and 0006_isolation.sql to this database first';
    END IF;
END
$$;

-- HMAC pads ----------------------------------------------------------------------------------------------------

-- hmac_pad(key, pad): the 64-byte HMAC-SHA256 key block (the key, or its sha256 when longer than 64 bytes,
-- zero-padded) with every byte XORed with `pad` (0x36 inner, 0x5c outer; RFC 2104). Pure; used only by the
-- generated columns below, so a key and its pads never disagree. Executable by anyone (whoever inserts a key
-- evaluates it); it reads nothing.
CREATE OR REPLACE FUNCTION tenantgate_private.hmac_pad(key bytea, pad integer)
RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k   bytea := CASE WHEN pg_catalog.octet_length(key) > 64 THEN pg_catalog.sha256(key) ELSE key END;
    out bytea := pg_catalog.decode(pg_catalog.repeat('00', 64), 'hex');
BEGIN
    FOR i IN 0 .. pg_catalog.octet_length(k) - 1 LOOP
        out := pg_catalog.set_byte(out, i, pg_catalog.get_byte(k, i));
    END LOOP;
    FOR i IN 0 .. 63 LOOP
        out := pg_catalog.set_byte(out, i, pg_catalog.get_byte(out, i) # pad);
    END LOOP;
    RETURN out;
END
$$;
GRANT EXECUTE ON FUNCTION tenantgate_private.hmac_pad(bytea, integer) TO PUBLIC;

ALTER TABLE tenantgate_private.context_keys
    ADD COLUMN IF NOT EXISTS ipad bytea GENERATED ALWAYS AS (tenantgate_private.hmac_pad(key, 54)) STORED,
    ADD COLUMN IF NOT EXISTS opad bytea GENERATED ALWAYS AS (tenantgate_private.hmac_pad(key, 92)) STORED;
COMMENT ON COLUMN tenantgate_private.context_keys.ipad IS 'generated: HMAC-SHA256 inner pad of key (0x36)';
COMMENT ON COLUMN tenantgate_private.context_keys.opad IS 'generated: HMAC-SHA256 outer pad of key (0x5c)';

-- The verified context -------------------------------------------------------------------------------------------

-- The token is read once per reference to c.t (current_setting is cheap). Everything before the signature is
-- taken in bytes (textsend, substring of bytea), not characters: left()/right() would count UTF-8 characters
-- over the whole token, twice each. The signature is the 14th field; for it to match, the first
-- octet_length - 64 bytes must be a prefix the key signed, which ends in '~' after 13 fields, so the 14th field
-- is then exactly the last 64 bytes. split_part(), octet_length() and substring() never raise.
CREATE OR REPLACE VIEW tenantgate.context_v2 WITH (security_barrier) AS
SELECT pg_catalog.split_part(c.t, '~', 4)::uuid                         AS tenant_id,
       nullif(pg_catalog.split_part(c.t, '~', 5), '')::uuid   AS user_id,
       pg_catalog.split_part(c.t, '~', 6)                               AS request_id,
       pg_catalog.split_part(c.t, '~', 7)                               AS placement,
       nullif(pg_catalog.split_part(c.t, '~', 8), '')         AS database_target,
       nullif(pg_catalog.split_part(c.t, '~', 9), '')         AS schema_name,
       pg_catalog.split_part(c.t, '~', 10)                              AS slug,
       pg_catalog.string_to_array(pg_catalog.split_part(c.t, '~', 11), ',') AS roles,
       pg_catalog.string_to_array(pg_catalog.split_part(c.t, '~', 12), ',') AS permissions,
       pg_catalog.split_part(c.t, '~', 13) = '1'                        AS read_only,
       pg_catalog.split_part(c.t, '~', 3)::bigint                       AS expires
  FROM (SELECT pg_catalog.current_setting('tenantgate.context', true) AS t) AS c
  JOIN tenantgate_private.context_keys AS k ON k.kid = pg_catalog.split_part(c.t, '~', 2)
 WHERE (k.retired_at IS NULL OR k.retired_at > pg_catalog.statement_timestamp())
   AND CASE WHEN pg_catalog.split_part(c.t, '~', 14)
                 = pg_catalog.encode(pg_catalog.sha256(k.opad || pg_catalog.sha256(
                       k.ipad || pg_catalog."substring"(pg_catalog.textsend(c.t), 1, pg_catalog.octet_length(c.t) - 64))),
                                     'hex')
            THEN pg_catalog.split_part(c.t, '~', 3)::bigint > pg_catalog.date_part('epoch', pg_catalog.statement_timestamp())
            ELSE false
       END;
ALTER VIEW tenantgate.context_v2 OWNER TO tenantgate_owner;
COMMENT ON VIEW tenantgate.context_v2 IS
    'The verified claims of the transaction''s tenantgate.context token (v2), one row, or no row (missing, '
    'empty, malformed, unknown or retired kid, bad signature, expired). Owner-owned security barrier: it reads '
    'the keys with the owner''s rights.';
REVOKE ALL ON TABLE tenantgate.context_v2 FROM PUBLIC;
-- tenantgate_members runs the membership functions (0007), which call current_tenant_id()/current_user_id().
GRANT SELECT ON TABLE tenantgate.context_v2 TO tenantgate_app, tenantgate_members;

-- The functions, over the view -----------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION tenantgate.current_tenant_id()
RETURNS uuid
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN (SELECT c.tenant_id FROM tenantgate.context_v2 AS c);
END
$$;
COMMENT ON FUNCTION tenantgate.current_tenant_id() IS
    'Tenant id of the verified context (tenantgate.context_v2), or NULL. RLS policies call it as '
    '(SELECT tenantgate.current_tenant_id()).';

CREATE OR REPLACE FUNCTION tenantgate.current_user_id()
RETURNS uuid
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN (SELECT c.user_id FROM tenantgate.context_v2 AS c);
END
$$;

CREATE OR REPLACE FUNCTION tenantgate.current_placement()
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN (SELECT c.placement FROM tenantgate.context_v2 AS c);
END
$$;

CREATE OR REPLACE FUNCTION tenantgate.current_request_id()
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN (SELECT c.request_id FROM tenantgate.context_v2 AS c);
END
$$;

CREATE OR REPLACE FUNCTION tenantgate.current_roles()
RETURNS text[]
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN coalesce((SELECT c.roles FROM tenantgate.context_v2 AS c), '{}'::text[]);
END
$$;

CREATE OR REPLACE FUNCTION tenantgate.current_permissions()
RETURNS text[]
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN coalesce((SELECT c.permissions FROM tenantgate.context_v2 AS c), '{}'::text[]);
END
$$;

CREATE OR REPLACE FUNCTION tenantgate.has_permission(permission text)
RETURNS boolean
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN coalesce((SELECT permission = ANY (c.permissions) FROM tenantgate.context_v2 AS c), false);
END
$$;

-- current_context(): the verified claims as the jsonb object v1 returned (tid, slug, plc, db, sch, uid, roles,
-- perms, rid, exp, and ro when true), or NULL. For tools and compatibility; the hot path never calls it.
CREATE OR REPLACE FUNCTION tenantgate.current_context()
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN (SELECT pg_catalog.jsonb_build_object(
                       'tid', c.tenant_id, 'slug', c.slug, 'plc', c.placement, 'db', c.database_target,
                       'sch', c.schema_name, 'uid', c.user_id, 'roles', pg_catalog.to_jsonb(c.roles),
                       'perms', pg_catalog.to_jsonb(c.permissions), 'rid', c.request_id, 'exp', c.expires)
                   || CASE WHEN c.read_only THEN '{"ro": true}'::jsonb ELSE '{}'::jsonb END
              FROM tenantgate.context_v2 AS c);
END
$$;
COMMENT ON FUNCTION tenantgate.current_context() IS
    'The verified claims of the transaction''s tenantgate.context token as jsonb, or NULL (missing, empty, '
    'malformed, unknown or retired kid, bad signature, expired). Reads tenantgate.context_v2.';
