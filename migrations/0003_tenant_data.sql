-- 0003_tenant_data.sql: tenant data of the example app (projects, tasks).
--
-- tenantgate:scope tenant
--   Apply to every tenant-data schema, after 0001 has been applied to its database:
--     shared placement     schema app of the control-plane database
--     schema placement     schema tenant_placements.schema_name (tenant_<...>) of its database
--     dedicated placement  schema app of the dedicated database
--   The target is the search_path: the runner sets exactly one schema, then applies the file unchanged,
--   in one transaction:
--       BEGIN; SET LOCAL search_path = tenant_acme; <this file>; COMMIT;
--       (psql: PGOPTIONS='-c search_path=tenant_acme' psql -1 -v ON_ERROR_STOP=1 -f 0003_tenant_data.sql)
--   Object names below are unqualified on purpose; everything outside the target is schema-qualified. The file
--   refuses any search_path that is not a single `app` or `tenant_[a-z0-9_]{1,56}`, and creates the schema
--   (owned by tenantgate_owner) when it does not exist.
--
-- Both tables are tenant-scoped: tenant_id leads the primary key, every index and every foreign key; RLS
-- is enabled and forced with one policy for tenantgate_app. tenant_id and created_by_user_id default to the
-- verified context, so without one an insert fails. No foreign keys to the control plane: a dedicated
-- database has none.

SET LOCAL client_min_messages = warning;  -- no NOTICEs for the IF [NOT] EXISTS skips

SET LOCAL ROLE tenantgate_owner;

DO $$
DECLARE
    target text := pg_catalog.current_setting('search_path');
BEGIN
    IF current_user <> 'tenantgate_owner' THEN
        RAISE EXCEPTION 'apply this file inside one transaction (SET LOCAL ROLE tenantgate_owner had no effect)';
    END IF;
    IF pg_catalog.to_regprocedure('tenantgate.current_tenant_id()') IS NULL THEN
        RAISE EXCEPTION 'apply 0001_roles_and_keys.sql to this database first';
    END IF;
    IF target !~ '^(app|tenant_[a-z0-9_]{1,56})$' THEN
        RAISE EXCEPTION 'search_path must name exactly one tenant-data schema (app or tenant_<slug>), not %', target;
    END IF;
    EXECUTE pg_catalog.format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION tenantgate_owner', target);
    IF (SELECT n.nspowner FROM pg_catalog.pg_namespace AS n WHERE n.nspname = target)
       IS DISTINCT FROM (SELECT r.oid FROM pg_catalog.pg_roles AS r WHERE r.rolname = 'tenantgate_owner') THEN
        RAISE EXCEPTION 'schema % exists but is not owned by tenantgate_owner', target;
    END IF;
    EXECUTE pg_catalog.format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', target);
    EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA %I TO tenantgate_app', target);
    EXECUTE pg_catalog.format('COMMENT ON SCHEMA %I IS %L', target, 'tenantgate tenant data (RLS on every table)');
END
$$;

CREATE TABLE IF NOT EXISTS projects (
    tenant_id          uuid        NOT NULL DEFAULT tenantgate.current_tenant_id(),
    id                 uuid        NOT NULL DEFAULT gen_random_uuid(),
    name               text        NOT NULL,
    created_by_user_id uuid                 DEFAULT tenantgate.current_user_id(),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT projects_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT projects_name_length CHECK (char_length(btrim(name)) BETWEEN 1 AND 200)
);
COMMENT ON TABLE projects IS 'tenant-scoped: projects of the example app.';
CREATE INDEX IF NOT EXISTS projects_tenant_created_idx ON projects (tenant_id, created_at, id);

CREATE TABLE IF NOT EXISTS tasks (
    tenant_id          uuid        NOT NULL DEFAULT tenantgate.current_tenant_id(),
    id                 uuid        NOT NULL DEFAULT gen_random_uuid(),
    project_id         uuid        NOT NULL,
    created_by_user_id uuid                 DEFAULT tenantgate.current_user_id(),
    title              text        NOT NULL,
    description        text        NOT NULL DEFAULT '',
    done               boolean     NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tasks_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT tasks_project_fkey FOREIGN KEY (tenant_id, project_id)
        REFERENCES projects (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT tasks_title_length CHECK (char_length(btrim(title)) BETWEEN 1 AND 500),
    CONSTRAINT tasks_description_length CHECK (char_length(description) <= 10000)
);
COMMENT ON TABLE tasks IS 'tenant-scoped: tasks of the example app, each in a project of the same tenant.';
CREATE INDEX IF NOT EXISTS tasks_tenant_created_idx ON tasks (tenant_id, created_at, id);
CREATE INDEX IF NOT EXISTS tasks_tenant_project_idx ON tasks (tenant_id, project_id, created_at, id);

CREATE OR REPLACE TRIGGER projects_touch_updated_at
    BEFORE UPDATE ON projects FOR EACH ROW EXECUTE FUNCTION tenantgate.touch_updated_at();
CREATE OR REPLACE TRIGGER tasks_touch_updated_at
    BEFORE UPDATE ON tasks FOR EACH ROW EXECUTE FUNCTION tenantgate.touch_updated_at();

ALTER TABLE projects ENABLE ROW LEVEL SECURITY;
ALTER TABLE projects FORCE ROW LEVEL SECURITY;
ALTER TABLE tasks    ENABLE ROW LEVEL SECURITY;
ALTER TABLE tasks    FORCE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS tenant_isolation ON projects;
CREATE POLICY tenant_isolation ON projects FOR ALL TO tenantgate_app
    USING (tenant_id = (SELECT tenantgate.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT tenantgate.current_tenant_id()));
DROP POLICY IF EXISTS tenant_isolation ON tasks;
CREATE POLICY tenant_isolation ON tasks FOR ALL TO tenantgate_app
    USING (tenant_id = (SELECT tenantgate.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT tenantgate.current_tenant_id()));

REVOKE ALL ON TABLE projects, tasks FROM PUBLIC, tenantgate_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE projects, tasks TO tenantgate_app;

DO $$
BEGIN
    PERFORM tenantgate_private.assert_tenant_isolation(pg_catalog.current_schema());
END
$$;
