-- 0006_isolation.sql: roles by duty and no shared-role side channels, in every database (issue 12).
--
-- tenantgate:scope database
--   Apply to every database tenantgate uses, after 0001, inside one transaction, as a superuser (it creates a
--   role and revokes rights on pg_catalog functions and views, which only a superuser may do). The
--   control-plane half (who may call which tenantgate function, users, memberships, the audit log) is 0007.
--
-- Roles
--   tenantgate_directory  LOGIN; what the gateway's tenant-directory lookups connect as (its own credentials,
--                         the Spin variable `directory_database_url`). Not superuser, NOBYPASSRLS, member of no
--                         role. 0007 lets it call resolve_tenant_by_*() and ensure_user() in the control plane,
--                         and nothing else; backends (tenantgate_app) no longer may.
--   tenantgate_members    NOLOGIN, BYPASSRLS, NOINHERIT; owns only the membership functions of 0007
--                         (accept_invitation, set_member_role, remove_member), which check the verified context
--                         themselves: memberships are no longer written by a backend's raw SQL.
--
-- Side channels (every tenant's backend shares tenantgate_app, so whatever one session of that role may see of
-- another, one tenant may see of another). Refused here for PUBLIC (hence tenantgate_app and the directory),
-- granted back to the predefined monitoring roles (pg_monitor, pg_read_all_stats) where they need it:
--   * other sessions' statement text, state and timings: pg_stat_activity and every pg_stat_get_*() function;
--   * cancelling or terminating another session: pg_cancel_backend(), pg_terminate_backend();
--   * statistics that count rows of every tenant: pg_stat_*/pg_statio_* views (the same functions);
--   * large objects, a store outside RLS shared by every session of the role: every lo_*() function,
--     loread()/lowrite(), and the pg_largeobject_metadata catalog;
--   * NOTIFY to another tenant's LISTEN: pg_notify() (the NOTIFY statement itself cannot be revoked: the host
--     refuses it, README "What PostgreSQL cannot refuse");
--   * CONNECT and TEMPORARY: this database only for the tenantgate roles (CONNECT revoked from PUBLIC), and
--     template1 closed to PUBLIC.
-- What stock PostgreSQL cannot refuse (ALTER ROLE ... SET and PASSWORD on one's own role, EXPLAIN, xids in
-- xmin, planner estimates) is listed in README.md with how the deployment handles it; `tenantgate audit
-- isolation` detects the lasting ones (role settings, grants, large objects, CONNECT/TEMP).

SET LOCAL client_min_messages = warning;  -- no NOTICEs for the IF [NOT] EXISTS skips
SET LOCAL search_path = pg_catalog, pg_temp;

DO $$
BEGIN
    IF NOT coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user), false) THEN
        RAISE EXCEPTION '0006_isolation.sql must be applied by a superuser (roles, pg_catalog rights)';
    END IF;
    IF pg_catalog.to_regprocedure('tenantgate.current_tenant_id()') IS NULL THEN
        RAISE EXCEPTION 'apply 0001_roles_and_keys.sql to this database first';
    END IF;
END
$$;

-- The directory role ------------------------------------------------------------------------------------------

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'tenantgate_directory') THEN
        BEGIN
            CREATE ROLE tenantgate_directory LOGIN;
        EXCEPTION WHEN duplicate_object THEN
            NULL; -- created meanwhile by a runner migrating another database of the same cluster
        END;
    END IF;
END
$$;
ALTER ROLE tenantgate_directory NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'tenantgate_members') THEN
        BEGIN
            CREATE ROLE tenantgate_members NOLOGIN;
        EXCEPTION WHEN duplicate_object THEN
            NULL;
        END;
    END IF;
END
$$;
ALTER ROLE tenantgate_members NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION BYPASSRLS NOINHERIT;
-- The owner hands the membership functions to it (ALTER FUNCTION ... OWNER TO needs membership).
GRANT tenantgate_members TO tenantgate_owner;

DO $$
DECLARE
    r text;
    found text;
BEGIN
    FOREACH r IN ARRAY ARRAY['tenantgate_app', 'tenantgate_directory'] LOOP
        SELECT pg_catalog.string_agg(g.rolname, ', ') INTO found
          FROM pg_catalog.pg_auth_members AS m JOIN pg_catalog.pg_roles AS g ON g.oid = m.roleid
         WHERE m.member = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = r);
        IF found IS NOT NULL THEN
            RAISE EXCEPTION '% must not be a member of any role (it is a member of: %)', r, found;
        END IF;
    END LOOP;
END
$$;

-- Databases: CONNECT only for the roles that need it, TEMPORARY for nobody but superusers --------------------------

DO $$
DECLARE
    db text := pg_catalog.current_database();
BEGIN
    EXECUTE pg_catalog.format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', db);
    EXECUTE pg_catalog.format('REVOKE ALL ON DATABASE %I FROM tenantgate_directory', db);
    EXECUTE pg_catalog.format('GRANT CONNECT ON DATABASE %I TO tenantgate_app, tenantgate_directory', db);
    -- template1 is copied by CREATE DATABASE; nobody needs to connect to it but a superuser.
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_database WHERE datname = 'template1') THEN
        REVOKE CONNECT, TEMPORARY ON DATABASE template1 FROM PUBLIC;
    END IF;
END
$$;

-- pg_catalog functions and views -------------------------------------------------------------------------------

DO $$
DECLARE
    f regprocedure;
    v regclass;
BEGIN
    -- Other sessions' activity and every statistics counter.
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc AS p
         WHERE p.pronamespace = 'pg_catalog'::regnamespace
           AND (p.proname LIKE 'pg\_stat\_get\_%' OR p.proname = 'pg_stat_get_activity')
    LOOP
        EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO pg_read_all_stats, pg_monitor', f);
    END LOOP;
    FOR v IN
        SELECT c.oid::regclass FROM pg_catalog.pg_class AS c
         WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relkind = 'v'
           AND (c.relname LIKE 'pg\_stat%' OR c.relname LIKE 'pg\_statio%')
           AND c.relname NOT IN ('pg_stats', 'pg_stats_ext', 'pg_stats_ext_exprs') -- planner stats: RLS-aware
    LOOP
        EXECUTE pg_catalog.format('REVOKE SELECT ON %s FROM PUBLIC', v);
        EXECUTE pg_catalog.format('GRANT SELECT ON %s TO pg_read_all_stats, pg_monitor', v);
    END LOOP;
    -- Large objects: a store outside RLS that every session of the role may read and write.
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc AS p
         WHERE p.pronamespace = 'pg_catalog'::regnamespace
           AND (p.proname LIKE 'lo\_%' OR p.proname IN ('loread', 'lowrite'))
    LOOP
        EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;
REVOKE SELECT ON pg_catalog.pg_largeobject_metadata FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pg_catalog.pg_cancel_backend(integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pg_catalog.pg_terminate_backend(integer, bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pg_catalog.pg_notify(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_cancel_backend(integer), pg_catalog.pg_terminate_backend(integer, bigint)
    TO pg_signal_backend;
