//! `tenantgate audit isolation`: clean on a correct database; each deliberate mutation of a tenant
//! table is found by the audit AND makes the cross-tenant matrix below fail; the repair makes both pass.

use tenantgate_tests::dataplane;

use crate::cli::World;

const KEY: &[u8] = b"audit-test-key-is-32-bytes-long!";

/// The cross-tenant matrix at the SQL level, as a component would run it (application role, the
/// tenant's signed context bound in the transaction) and as the owner role migrations run as.
/// Returns every violation: rows of another tenant seen or changed, or the tenant's own rows missing.
async fn matrix(w: &World, viewer: &str, victim: &str) -> Vec<String> {
    let (db, conn) = tokio_postgres::connect(&w.control.url("postgres"), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let ctx = dataplane::sign_context(
        "k1",
        KEY,
        &serde_json::json!({"tid": viewer, "slug": "v", "plc": "shared", "db": null, "sch": null, "uid": null,
                            "roles": [], "perms": [], "rid": "matrix", "exp": dataplane::unix_now() + 60}),
    );
    let mut violations = Vec::new();
    for table in ["projects", "tasks"] {
        let own_total = w.control_sql(&format!(
            "SELECT count(*) FROM app.{table} WHERE tenant_id = '{viewer}'"
        ));
        let checks = [
            ("tenantgate_app", format!("SELECT count(*) FROM app.{table} WHERE tenant_id = '{victim}'"), "0", "read by tenant"),
            ("tenantgate_app", format!("SELECT count(*) FROM app.{table} WHERE tenant_id <> '{viewer}'"), "0", "list"),
            ("tenantgate_app", format!("SELECT count(*) FROM app.{table}"), own_total.as_str(), "count (own rows only, all of them)"),
            ("tenantgate_app", format!("WITH u AS (UPDATE app.{table} SET updated_at = now() WHERE tenant_id = '{victim}' RETURNING 1) SELECT count(*) FROM u"), "0", "update"),
            ("tenantgate_app", format!("WITH d AS (DELETE FROM app.{table} WHERE tenant_id = '{victim}' RETURNING 1) SELECT count(*) FROM d"), "0", "delete"),
            ("tenantgate_owner", format!("SELECT count(*) FROM app.{table}"), "0", "owner read"),
        ];
        for (role, sql, want, what) in checks {
            db.batch_execute(&format!("BEGIN; SET LOCAL ROLE {role}"))
                .await
                .unwrap();
            db.execute("SELECT set_config('tenantgate.context', $1, true)", &[&ctx])
                .await
                .unwrap();
            let got: i64 = db.query_one(&sql, &[]).await.unwrap().get(0);
            db.batch_execute("ROLLBACK").await.unwrap();
            let got = got.to_string();
            if got != want {
                violations.push(format!("{table} {what} as {role}: {got} (want {want})"));
            }
        }
    }
    violations
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_isolation_finds_each_mutation_that_the_matrix_also_catches() {
    let w = World::start();
    w.tg(&["migrate"]).ok();
    dataplane::add_context_key(&w.control, "k1", KEY);
    w.tg(&["tenant", "create", "acme", "--name", "Acme"]).ok();
    w.tg(&["tenant", "create", "globex", "--name", "Globex"])
        .ok();
    w.tg(&[
        "tenant",
        "create",
        "solo",
        "--name",
        "Solo",
        "--placement",
        "dedicated",
        "--database",
        "eu",
    ])
    .ok();
    let id = |slug: &str| {
        w.control_sql(&format!(
            "SELECT id FROM tenantgate.tenants WHERE slug = '{slug}'"
        ))
    };
    let (acme, globex, solo) = (id("acme"), id("globex"), id("solo"));
    for (t, p) in [
        (&acme, "a1000000-0000-4000-8000-000000000001"),
        (&globex, "b1000000-0000-4000-8000-000000000001"),
    ] {
        w.control_sql(&format!(
            "INSERT INTO app.projects (tenant_id, id, name) VALUES ('{t}', '{p}', 'P');
             INSERT INTO app.tasks (tenant_id, project_id, title) VALUES ('{t}', '{p}', 'one'), ('{t}', '{p}', 'two');"
        ));
    }
    w.eu.psql(
        "postgres",
        &format!(
            "INSERT INTO app.projects (tenant_id, id, name) VALUES ('{solo}', 'c1000000-0000-4000-8000-000000000001', 'S');"
        ),
    );
    // A row in the dedicated database that does not belong there: the audit must not see it as visible.
    w.eu.psql(
        "postgres",
        &format!("INSERT INTO app.projects (tenant_id, id, name) VALUES ('{acme}', 'a1000000-0000-4000-8000-0000000000ff', 'stray');"),
    );

    let clean = w.tg(&["audit", "isolation"]);
    assert_eq!(clean.code, 0, "{}\n{}", clean.stdout, clean.stderr);
    assert!(clean.stdout.contains("no findings"), "{}", clean.stdout);
    for (db, table) in [
        ("control", "app.tasks"),
        ("control", "tenantgate.memberships"),
        ("eu", "app.projects"),
    ] {
        let audited = clean.stdout.lines().any(|l| {
            let mut cols = l.split_whitespace();
            cols.next() == Some(db) && cols.next() == Some(table) && l.ends_with("ok")
        });
        assert!(audited, "{db} {table} not audited:\n{}", clean.stdout);
    }
    assert_eq!(
        matrix(&w, &acme, &globex).await,
        Vec::<String>::new(),
        "the matrix passes on a sound database"
    );
    // The audit's temporary key is gone from every database.
    assert_eq!(
        w.control_sql("SELECT string_agg(kid, ',') FROM tenantgate_private.context_keys"),
        "k1"
    );
    assert_eq!(
        w.eu.psql(
            "postgres",
            "SELECT count(*) FROM tenantgate_private.context_keys WHERE kid LIKE 'audit-%'"
        )
        .trim(),
        "0"
    );

    let repair = "DROP POLICY IF EXISTS leak ON app.tasks; GRANT SELECT, INSERT, UPDATE, DELETE ON app.tasks, app.projects TO tenantgate_app;";
    let mutations: &[(&str, &str, &str)] = &[
        ("DROP POLICY tenant_isolation ON app.tasks", "[policy]", "own-rows"),
        ("ALTER TABLE app.projects NO FORCE ROW LEVEL SECURITY", "[rls-forced]", "owner-read"),
        (
            "CREATE POLICY leak ON app.tasks AS PERMISSIVE FOR SELECT TO tenantgate_app USING (true)",
            "[policy]",
            "cross-read",
        ),
        ("ALTER TABLE app.tasks DISABLE ROW LEVEL SECURITY", "[rls]", "cross-read"),
    ];
    for (mutation, check, behaviour) in mutations {
        w.control_sql(mutation);
        let found = w.tg(&["audit", "isolation"]);
        assert_eq!(
            found.code, 1,
            "{mutation}: the audit passed:\n{}",
            found.stdout
        );
        assert!(
            found.stdout.contains(check),
            "{mutation}: no {check} finding:\n{}",
            found.stdout
        );
        assert!(
            found.stdout.contains(&format!("[{behaviour}]")),
            "{mutation}: no {behaviour} finding:\n{}",
            found.stdout
        );
        let violations = matrix(&w, &acme, &globex).await;
        assert!(!violations.is_empty(), "{mutation}: the matrix passed");
        // Repair: the migration is idempotent and restores the policy, FORCE and RLS.
        w.control_sql(repair);
        dataplane::apply(&w.control, "0003_tenant_data.sql", "app");
        let again = w.tg(&["audit", "isolation"]);
        assert_eq!(
            again.code, 0,
            "after repairing {mutation}:\n{}",
            again.stdout
        );
        assert_eq!(matrix(&w, &acme, &globex).await, Vec::<String>::new());
    }

    // Grants and role attributes are audited too.
    w.control_sql("GRANT TRUNCATE ON app.tasks TO tenantgate_app");
    let grants = w.tg(&["audit", "isolation"]);
    assert_eq!(grants.code, 1);
    assert!(
        grants.stdout.contains("tenantgate_app holds TRUNCATE"),
        "{}",
        grants.stdout
    );
    w.control_sql("REVOKE TRUNCATE ON app.tasks FROM tenantgate_app");
    w.eu.psql("postgres", "ALTER ROLE tenantgate_app BYPASSRLS");
    let role = w.tg(&["audit", "isolation"]);
    assert_eq!(role.code, 1);
    assert!(
        role.stdout
            .contains("eu - [app-role]: tenantgate_app has BYPASSRLS"),
        "{}",
        role.stdout
    );
    w.eu.psql("postgres", "ALTER ROLE tenantgate_app NOBYPASSRLS");
    // An unmarked table without tenant_id in a tenant schema is a finding.
    w.control_sql("CREATE TABLE app.notes (body text)");
    let unmarked = w.tg(&["audit", "isolation"]);
    assert!(
        unmarked.stdout.contains("app.notes [scope]"),
        "{}",
        unmarked.stdout
    );
    w.control_sql("DROP TABLE app.notes");
    assert_eq!(w.tg(&["audit", "isolation"]).code, 0);
}
