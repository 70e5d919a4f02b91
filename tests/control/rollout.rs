//! `tenantgate migrate`: every placement, the canary, records, failures that stay where they happen.

use crate::cli::{migrations_with, World};

const ADD_PRIORITY: &str = "-- tenantgate:scope tenant
-- test migration: a column on tasks
SET LOCAL ROLE tenantgate_owner;
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS priority integer NOT NULL DEFAULT 0;
";

const ADD_LABEL: &str = "-- tenantgate:scope tenant
SET LOCAL ROLE tenantgate_owner;
ALTER TABLE tasks ADD COLUMN label text;
";

/// Which placements have column `column` on `tasks`, as (control-plane schemas, eu has it).
fn with_column(w: &World, column: &str) -> (String, bool) {
    let schemas = w.control_sql(&format!(
        "SELECT string_agg(table_schema, ',' ORDER BY table_schema) FROM information_schema.columns \
          WHERE table_name = 'tasks' AND column_name = '{column}'"
    ));
    let eu = w.eu.psql(
        "postgres",
        &format!(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'app' \
              AND table_name = 'tasks' AND column_name = '{column}'"
        ),
    );
    (schemas, eu.trim() == "1")
}

#[test]
fn migrate_rolls_out_to_every_placement_with_a_canary_and_records_what_ran_where() {
    let w = World::start();

    // A fresh control plane: the database, control and shared targets.
    let first = w.tg(&["migrate"]).ok();
    assert!(
        first.stdout.contains("database:control"),
        "{}",
        first.stdout
    );
    assert!(first.stdout.contains("shared"), "{}", first.stdout);
    assert_eq!(
        w.control_sql("SELECT string_agg(placement || '=' || version, ' ' ORDER BY placement, version) FROM tenantgate.schema_migrations"),
        "control=0002 control=0004 control=0005 control=0007 control=0008 control=0010 control=0011 control=0013 database:control=0001 database:control=0006 database:control=0009 database:control=0012 database:control=0014 shared=0003"
    );
    // Idempotent: nothing applied the second time.
    let again = w.tg(&["migrate"]).ok();
    assert!(
        !again.stdout.contains("ok ("),
        "a second run applied something:\n{}",
        again.stdout
    );

    // Four tenants in the three placements; the CLI prepares each placement.
    w.tg(&["tenant", "create", "acme", "--name", "Acme"]).ok();
    w.tg(&[
        "tenant",
        "create",
        "beta",
        "--name",
        "Beta",
        "--placement",
        "schema",
    ])
    .ok();
    w.tg(&[
        "tenant",
        "create",
        "big",
        "--name",
        "Big",
        "--placement",
        "dedicated",
        "--database",
        "eu",
    ])
    .ok();
    w.tg(&[
        "tenant",
        "create",
        "zed",
        "--name",
        "Zed",
        "--placement",
        "schema",
    ])
    .ok();
    let list = w.tg(&["tenant", "list"]).ok().stdout;
    for expected in [
        "acme",
        "shared",
        "beta",
        "schema:control/tenant_beta",
        "big",
        "dedicated:eu",
        "zed",
    ] {
        assert!(list.contains(expected), "{expected} missing from\n{list}");
    }
    // The dedicated database got the roles, the schema, and the context keys' table.
    assert_eq!(
        w.eu.psql(
            "postgres",
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'app'"
        )
        .trim(),
        "2"
    );

    // ... and every database-scope file, the verified context of 0009 included.
    assert_eq!(
        w.control_sql(
            "SELECT string_agg(version, ' ' ORDER BY version) FROM tenantgate.schema_migrations \
              WHERE placement = 'database:eu'"
        ),
        "0001 0006 0009 0012 0014"
    );
    assert_eq!(
        w.eu.psql(
            "postgres",
            "SELECT count(*) FROM pg_views WHERE schemaname = 'tenantgate' AND viewname = 'context_v2'"
        )
        .trim(),
        "1"
    );

    // A new tenant-data migration, rolled out 1 -> 2 -> all. Isolated tenants go first, by slug.
    let dir = migrations_with(&[("9004_priority.sql", ADD_PRIORITY)]);
    let one = w.tg_with(dir.path(), &["migrate", "--tenants", "1"]).ok();
    assert!(one.stdout.contains("not yet migrated"), "{}", one.stdout);
    assert_eq!(
        with_column(&w, "priority"),
        ("tenant_beta".to_string(), false)
    );
    w.tg_with(dir.path(), &["migrate", "--tenants", "2"]).ok();
    assert_eq!(
        with_column(&w, "priority"),
        ("tenant_beta".to_string(), true)
    );
    w.tg_with(dir.path(), &["migrate"]).ok();
    assert_eq!(
        with_column(&w, "priority"),
        ("app,tenant_beta,tenant_zed".to_string(), true)
    );
    assert_eq!(
        w.control_sql("SELECT string_agg(placement, ' ' ORDER BY placement) FROM tenantgate.schema_migrations WHERE version = '9004'"),
        "dedicated:eu schema:control/tenant_beta schema:control/tenant_zed shared"
    );

    // A migration that fails in one placement stops that placement only.
    w.control_sql("ALTER TABLE tenant_zed.tasks ADD COLUMN label text");
    let dir5 = migrations_with(&[
        ("9004_priority.sql", ADD_PRIORITY),
        ("9005_label.sql", ADD_LABEL),
    ]);
    let failed = w.tg_with(dir5.path(), &["migrate"]);
    assert_eq!(failed.code, 1, "{}\n{}", failed.stdout, failed.stderr);
    assert!(
        failed.stdout.contains("schema:control/tenant_zed")
            && failed.stdout.contains("FAILED: 9005_label.sql"),
        "{}",
        failed.stdout
    );
    assert_eq!(
        w.control_sql("SELECT string_agg(placement, ' ' ORDER BY placement) FROM tenantgate.schema_migrations WHERE version = '9005'"),
        "dedicated:eu schema:control/tenant_beta shared",
        "the others applied and recorded 9005; zed did not"
    );
    // Fix the placement; the next run completes it.
    w.control_sql("ALTER TABLE tenant_zed.tasks DROP COLUMN label");
    w.tg_with(dir5.path(), &["migrate"]).ok();
    assert_eq!(
        w.control_sql("SELECT count(*) FROM tenantgate.schema_migrations WHERE version = '9005'"),
        "4"
    );

    // A file edited after it ran is refused, not re-run.
    let edited = migrations_with(&[
        ("9004_priority.sql", &format!("{ADD_PRIORITY}-- edited\n")),
        ("9005_label.sql", ADD_LABEL),
    ]);
    let refused = w.tg_with(edited.path(), &["migrate"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stdout
            .contains("9004_priority.sql changed since it was applied"),
        "{}",
        refused.stdout
    );

    // A dry run changes nothing.
    let dir6 = migrations_with(&[
        ("9004_priority.sql", ADD_PRIORITY),
        ("9005_label.sql", ADD_LABEL),
        ("9006_more.sql", "-- tenantgate:scope tenant\nSET LOCAL ROLE tenantgate_owner;\nALTER TABLE tasks ADD COLUMN more int;\n"),
    ]);
    let dry = w.tg_with(dir6.path(), &["migrate", "--dry-run"]).ok();
    assert!(dry.stdout.contains("9006"), "{}", dry.stdout);
    assert_eq!(with_column(&w, "more"), (String::new(), false));
    assert_eq!(
        w.control_sql("SELECT count(*) FROM tenantgate.schema_migrations WHERE version = '9006'"),
        "0"
    );
}

#[test]
fn tenant_create_refuses_bad_input_with_clear_errors_and_changes_nothing() {
    let w = World::start();
    w.tg(&["migrate"]).ok();
    w.tg(&["tenant", "create", "acme", "--name", "Acme"]).ok();
    let cases: &[(&[&str], &str)] = &[
        (
            &["tenant", "create", "acme", "--name", "Again"],
            "already exists",
        ),
        (&["tenant", "create", "www", "--name", "W"], "reserved"),
        (
            &["tenant", "create", "Bad_Slug", "--name", "B"],
            "DNS label",
        ),
        (
            &[
                "tenant", "create", "nop", "--name", "N", "--plan", "platinum",
            ],
            "no such plan",
        ),
        (
            &[
                "tenant",
                "create",
                "ded",
                "--name",
                "D",
                "--placement",
                "dedicated",
            ],
            "--database",
        ),
        (
            &[
                "tenant",
                "create",
                "ded",
                "--name",
                "D",
                "--placement",
                "dedicated",
                "--database",
                "mars",
            ],
            "mars",
        ),
        (
            &[
                "tenant",
                "create",
                "sch",
                "--name",
                "S",
                "--placement",
                "schema",
                "--schema",
                "public",
            ],
            "tenant_",
        ),
        (&["tenant", "show", "nobody"], "no tenant with slug"),
    ];
    for (args, expected) in cases {
        let out = w.tg(args);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stdout);
        assert!(
            out.stderr.starts_with("error: ") && out.stderr.contains(expected),
            "{args:?}: {}",
            out.stderr
        );
    }
    assert_eq!(
        w.control_sql("SELECT string_agg(slug, ',') FROM tenantgate.tenants"),
        "acme"
    );
    // Another tenant cannot take a schema that is in use.
    w.tg(&[
        "tenant",
        "create",
        "beta",
        "--name",
        "Beta",
        "--placement",
        "schema",
    ])
    .ok();
    let taken = w.tg(&[
        "tenant",
        "create",
        "gamma",
        "--name",
        "G",
        "--placement",
        "schema",
        "--schema",
        "tenant_beta",
    ]);
    assert!(
        taken.stderr.contains("already holds tenant \"beta\""),
        "{}",
        taken.stderr
    );
    // Built-in roles come with every tenant; the creation is audited.
    assert_eq!(
        w.control_sql("SELECT string_agg(r.name, ',' ORDER BY r.name) FROM tenantgate.roles r JOIN tenantgate.tenants t ON t.id = r.tenant_id WHERE t.slug = 'beta'"),
        "admin,member,owner"
    );
    assert_eq!(
        w.control_sql("SELECT count(*) FROM tenantgate.audit_log WHERE action = 'tenant.created'"),
        "2"
    );
}
