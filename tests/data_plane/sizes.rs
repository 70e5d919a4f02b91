//! What the application role, holding acme's valid context, can learn of the size of another
//! tenant's data (issue 22 item 5, migration 0014; README "What PostgreSQL cannot refuse").
//!
//! Closed: the size functions (exact bytes of another tenant's schema in this database, the size
//! of a dedicated tenant's database, of the default tablespace) are refused. Not closed, and
//! asserted here so the README's claim stays exact: in a database that holds several tenants'
//! tables, `EXPLAIN (ANALYZE)` counts another tenant's rows ("Rows Removed by Filter") and
//! `pg_class.reltuples` estimates them, for a schema placement as for the shared one.

use super::{as_app, migrate, seed, token, A, B, KEY};
use tenantgate_tests::dataplane::{apply, files_of_scope};
use tenantgate_tests::postgres::PgCluster;

fn setup() -> PgCluster {
    let pg = PgCluster::start();
    migrate(&pg);
    seed(&pg);
    // globex also in a schema placement of its own in this database (three rows), and a dedicated
    // database `eu` on the same server, migrated as `tenantgate migrate` does.
    for file in files_of_scope("tenant") {
        apply(&pg, &file, "tenant_globex");
    }
    pg.psql(
        "postgres",
        &format!(
            "INSERT INTO tenant_globex.projects (tenant_id, id, name) VALUES
               ('{B}', 'b1000000-0000-4000-8000-0000000000f1', 'Globex project');
             INSERT INTO tenant_globex.tasks (tenant_id, id, project_id, title)
             SELECT '{B}', gen_random_uuid(), 'b1000000-0000-4000-8000-0000000000f1', 'globex ' || i
               FROM generate_series(1, 3) AS i;
             ANALYZE tenant_globex.tasks;"
        ),
    );
    pg.psql("postgres", "CREATE DATABASE eu");
    for file in files_of_scope("database") {
        pg.apply_file(
            "eu",
            &tenantgate_tests::workspace_root()
                .join("migrations")
                .join(&file),
            "",
        )
        .unwrap();
    }
    pg
}

#[tokio::test]
async fn another_tenants_sizes_through_the_size_functions_are_refused() {
    let pg = setup();
    let acme = token("k1", KEY, A, 300);

    // Controls: acme reads its own rows, globex's schema shows it nothing (RLS), and the
    // monitoring superuser still has every size function.
    assert_eq!(
        as_app(&pg, &acme, "SELECT count(*) FROM app.tasks")
            .await
            .unwrap(),
        ["2"]
    );
    assert_eq!(
        as_app(&pg, &acme, "SELECT count(*) FROM tenant_globex.tasks")
            .await
            .unwrap(),
        ["0"]
    );
    assert_eq!(
        pg.psql(
            "postgres",
            "SELECT pg_relation_size('tenant_globex.tasks') > 0 AND pg_database_size('eu') > 0"
        ),
        "t"
    );

    // Refused to the application role, whatever it names (exact error, nothing returned).
    for (function, sql) in [
        (
            "pg_relation_size",
            "SELECT pg_relation_size('tenant_globex.tasks')",
        ),
        (
            "pg_relation_size",
            "SELECT pg_relation_size('tenant_globex.tasks', 'main')",
        ),
        (
            "pg_table_size",
            "SELECT pg_table_size('tenant_globex.tasks')",
        ),
        (
            "pg_indexes_size",
            "SELECT pg_indexes_size('tenant_globex.tasks')",
        ),
        (
            "pg_total_relation_size",
            "SELECT pg_total_relation_size('tenant_globex.tasks')",
        ),
        // eu is a dedicated tenant's database: the role may CONNECT to it (0006), so before 0014
        // any tenant's connection could read its size.
        ("pg_database_size", "SELECT pg_database_size('eu')"),
        (
            "pg_database_size",
            "SELECT pg_database_size((SELECT oid FROM pg_database WHERE datname = 'eu'))",
        ),
        (
            "pg_tablespace_size",
            "SELECT pg_tablespace_size('pg_default')",
        ),
        // Its own tables too: the functions are closed, not filtered.
        ("pg_relation_size", "SELECT pg_relation_size('app.tasks')"),
    ] {
        assert_eq!(
            as_app(&pg, &acme, sql).await,
            Err(format!("permission denied for function {function}")),
            "{sql}"
        );
    }
}

#[tokio::test]
async fn in_a_shared_database_explain_and_pg_class_still_count_another_schemas_rows() {
    let pg = setup();
    let acme = token("k1", KEY, A, 300);
    let globex = token("k1", KEY, B, 300);
    let explain =
        "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM tenant_globex.tasks";

    // The documented residual, exactly: acme's statement returns no row of globex's schema, and
    // its plan says how many it filtered out; the planner's statistics give the same count.
    let plan = as_app(&pg, &acme, explain).await.unwrap().join("\n");
    assert!(plan.contains("(actual rows=0 loops=1)"), "{plan}");
    assert!(plan.contains("Rows Removed by Filter: 3"), "{plan}");
    assert_eq!(
        as_app(
            &pg,
            &acme,
            "SELECT reltuples::bigint FROM pg_class WHERE oid = 'tenant_globex.tasks'::regclass"
        )
        .await
        .unwrap(),
        ["3"]
    );
    // Control: globex's own context reads its three rows, none removed.
    let plan = as_app(&pg, &globex, explain).await.unwrap().join("\n");
    assert!(plan.contains("(actual rows=3 loops=1)"), "{plan}");
    assert!(!plan.contains("Rows Removed"), "{plan}");
}
