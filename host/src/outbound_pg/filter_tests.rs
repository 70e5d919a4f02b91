//! The statement filter against what the project's components send (allowed) and what a
//! hostile component would (refused), each refusal with its reason.

use super::*;

/// What tenant-db, the tasks component, the gateway's directory and tenant-db's one-row
/// envelope send today: none of it may be refused.
const SENT_BY_THE_APP: &[&str] = &[
    "ROLLBACK",
    "BEGIN",
    "BEGIN READ ONLY",
    "START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY",
    "COMMIT",
    "SAVEPOINT s1",
    "RELEASE SAVEPOINT s1",
    "ROLLBACK TO SAVEPOINT s1",
    "SELECT set_config('tenantgate.context', $1, true)",
    "SELECT tenantgate.current_tenant_id()::text AS tid FROM \
     (SELECT set_config('search_path', $1, true), \
             set_config('tenantgate.context', $2, true) OFFSET 0) AS bind",
    "SELECT r.tenant_id::text, r.slug, r.name, r.status, r.plan, r.placement, \
     r.database_target, r.schema_name, r.read_only \
     FROM (VALUES (1)) AS one (x) LEFT JOIN tenantgate.resolve_tenant_by_slug($1) AS r ON true",
    "WITH tenantgate_q AS (SELECT id::text AS id, title, to_char(created_at AT TIME ZONE 'UTC', \
     'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS created_at FROM tasks WHERE project_id = $1 AND \
     (created_at, id) > (SELECT created_at, id FROM tasks WHERE id = $2) ORDER BY created_at, id LIMIT $3) \
     SELECT tenantgate_r.* FROM (VALUES (1)) AS tenantgate_one (x) LEFT JOIN \
     (SELECT true AS tenantgate_row, tenantgate_q.* FROM tenantgate_q) AS tenantgate_r ON true",
    "WITH tenantgate_q AS (INSERT INTO tasks (project_id, title, description, done) VALUES ($1, $2, $3, $4) \
     RETURNING id::text AS id) SELECT tenantgate_r.* FROM (VALUES (1)) AS tenantgate_one (x) LEFT JOIN \
     (SELECT true AS tenantgate_row, tenantgate_q.* FROM tenantgate_q) AS tenantgate_r ON true",
    "WITH tenantgate_q AS (UPDATE tasks SET title = coalesce($2, title) WHERE id = $1 RETURNING title) \
     SELECT tenantgate_r.* FROM (VALUES (1)) AS tenantgate_one (x) LEFT JOIN \
     (SELECT true AS tenantgate_row, tenantgate_q.* FROM tenantgate_q) AS tenantgate_r ON true",
    "WITH d AS (DELETE FROM tasks RETURNING tenant_id), tenantgate_q AS (SELECT count(*) FROM d) \
     SELECT tenantgate_r.* FROM (VALUES (1)) AS tenantgate_one (x) LEFT JOIN \
     (SELECT true AS tenantgate_row, tenantgate_q.* FROM tenantgate_q) AS tenantgate_r ON true",
    "DELETE FROM tasks WHERE id = $1",
    "INSERT INTO projects (name) VALUES ($1) ON CONFLICT DO NOTHING",
    "UPDATE projects SET name = coalesce($2, name) WHERE id = $1 RETURNING id::text",
    "MERGE INTO tasks t USING (VALUES (1)) v (x) ON false WHEN NOT MATCHED THEN DO NOTHING",
    "SELECT count(*) FILTER (WHERE done) FROM tasks WHERE title ILIKE $1 FOR UPDATE",
    "VALUES (1), (2)",
    "SELECT 1 UNION ALL SELECT 2",
    "SELECT pg_backend_pid()",
    "SELECT 1; SELECT 2",
    "SELECT 1;",
    "END",
    "ABORT",
];

#[test]
fn everything_the_app_sends_is_accepted() {
    for sql in SENT_BY_THE_APP {
        assert_eq!(check(sql), Ok(()), "{sql}");
    }
}

#[test]
fn everything_that_outlives_a_transaction_or_reaches_others_is_refused() {
    let refused: &[(&str, &str)] = &[
        (
            "ALTER ROLE CURRENT_USER SET statement_timeout = 1",
            "ALTER ROLE",
        ),
        ("ALTER ROLE tenantgate_app PASSWORD 'x'", "ALTER ROLE"),
        ("ALTER USER CURRENT_USER SET search_path = evil", ""),
        ("SET statement_timeout = 1", "SET"),
        ("SET SESSION default_transaction_read_only = on", "SET"),
        ("SET LOCAL row_security = off", "SET"),
        ("SET ROLE tenantgate_owner", "SET"),
        ("SET SESSION AUTHORIZATION postgres", "SET"),
        ("RESET ALL", ""),
        ("RESET ROLE", ""),
        ("DISCARD ALL", "DISCARD"),
        ("COPY tasks TO STDOUT", "COPY"),
        ("COPY (SELECT 1) TO '/tmp/x'", "COPY"),
        ("EXPLAIN ANALYZE SELECT * FROM tasks", "EXPLAIN"),
        ("EXPLAIN SELECT * FROM tasks", "EXPLAIN"),
        ("LISTEN c", "LISTEN"),
        ("NOTIFY c, 'x'", "NOTIFY"),
        ("UNLISTEN *", ""),
        ("DO $$ BEGIN PERFORM 1; END $$", ""),
        ("CREATE TABLE app.loot (x int)", "CREATE"),
        ("CREATE TEMP TABLE loot AS SELECT * FROM tasks", "CREATE"),
        ("DROP POLICY tenant_isolation ON tasks", ""),
        (
            "ALTER TABLE tasks DISABLE ROW LEVEL SECURITY",
            "ALTER TABLE",
        ),
        ("GRANT SELECT ON tasks TO PUBLIC", "GRANT"),
        ("REVOKE SELECT ON tasks FROM PUBLIC", ""),
        ("TRUNCATE tasks", "TRUNCATE"),
        ("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE", ""),
        ("PREPARE stash AS SELECT 1", "PREPARE"),
        ("EXECUTE stash", ""),
        ("DEALLOCATE ALL", ""),
        ("CALL tenantgate.anything()", "CALL"),
        ("SELECT * INTO loot FROM tasks", "SELECT ... INTO"),
        ("SELECT 1 UNION SELECT * INTO loot FROM tasks", ""),
        (
            "WITH tenantgate_q AS (SELECT * INTO loot FROM tasks) SELECT tenantgate_r.* FROM \
             (VALUES (1)) AS tenantgate_one (x) LEFT JOIN (SELECT true AS tenantgate_row, \
             tenantgate_q.* FROM tenantgate_q) AS tenantgate_r ON true",
            "SELECT ... INTO",
        ),
        ("COMMENT ON TABLE tasks IS 'x'", "COMMENT"),
        ("VACUUM tasks", ""),
        ("ANALYZE tasks", ""),
        ("DECLARE c CURSOR WITH HOLD FOR SELECT 1", ""),
        (
            "SELECT 1; ALTER ROLE CURRENT_USER SET work_mem = '64kB'",
            "ALTER ROLE",
        ),
        ("DELETE FROM tasks; COPY tasks TO STDOUT", "COPY"),
        ("PREPARE TRANSACTION 'keep'", ""),
        ("COMMIT PREPARED 'keep'", ""),
        ("ROLLBACK PREPARED 'keep'", ""),
        (
            "BEGIN; ALTER ROLE CURRENT_USER SET work_mem = '64kB'; COMMIT",
            "ALTER ROLE",
        ),
        ("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", ""),
        ("CHECKPOINT", ""),
        ("LOAD 'auto_explain'", ""),
        ("CREATE EXTENSION dblink", "CREATE EXTENSION"),
        ("REFRESH MATERIALIZED VIEW v", ""),
        ("SHOW work_mem", ""),
        ("", "no statement"),
        ("-- only a comment", "no statement"),
        ("SELECT 'unterminated", "does not parse"),
        ("SELEKT 1", "does not parse"),
    ];
    for (sql, why) in refused {
        let err = check(sql).expect_err(sql);
        assert!(err.contains(why), "{sql}: {err}");
    }
}

#[test]
fn the_gate_remembers_only_what_it_accepted_and_off_lets_all_through() {
    let gate = StatementGate::new(StatementFilter::Backend);
    assert_eq!(gate.check("SELECT 1"), Ok(()));
    assert_eq!(gate.check("SELECT 1"), Ok(()));
    for _ in 0..2 {
        let err = gate
            .check("ALTER ROLE CURRENT_USER PASSWORD 'x'")
            .unwrap_err();
        assert!(
            err.starts_with("statement refused by the host: ALTER ROLE"),
            "{err}"
        );
    }
    for i in 0..(REMEMBERED + 10) {
        assert_eq!(gate.check(&format!("SELECT {i}")), Ok(()));
    }
    let off = StatementGate::new(StatementFilter::Off);
    assert_eq!(off.check("ALTER ROLE CURRENT_USER PASSWORD 'x'"), Ok(()));
    assert_eq!("backend".parse(), Ok(StatementFilter::Backend));
    assert_eq!("any".parse(), Ok(StatementFilter::Off));
    assert!("everything".parse::<StatementFilter>().is_err());
}
