//! `tenantgate audit isolation` also finds what PostgreSQL lets a backend do to its own role, and what
//! a grant would reopen (issue 12): each mutation below is found with its exact finding, and the
//! repair makes the audit clean again. The first one is done by the application role itself, as a
//! backend on Spin could.

use crate::cli::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_isolation_finds_role_settings_drift_and_reopened_side_channels() {
    let w = World::start();
    w.tg(&["migrate"]).ok();
    w.tg(&["tenant", "create", "acme", "--name", "Acme"]).ok();
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
    let clean = w.tg(&["audit", "isolation"]);
    assert_eq!(clean.code, 0, "{}\n{}", clean.stdout, clean.stderr);

    // PostgreSQL lets the application role set its own role-level defaults: the audit finds it.
    let (app, conn) = tokio_postgres::connect(
        &w.control.url_as("tenantgate_app", "postgres"),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    app.batch_execute(
        "ALTER ROLE CURRENT_USER SET statement_timeout = '1s'; ALTER ROLE CURRENT_USER SET work_mem = '64kB'",
    )
    .await
    .unwrap();
    drop(app);
    let found = w.tg(&["audit", "isolation"]);
    assert_eq!(found.code, 1, "{}", found.stdout);
    // Each setting says whether the connection strings' pinned options outrank it.
    assert!(
        found.stdout.contains(
            "control - [role-settings]: tenantgate_app has role-level settings in every database: \
             statement_timeout=1s (pinned), work_mem=64kB (not pinned) (ALTER ROLE tenantgate_app RESET ALL)"
        ),
        "{}",
        found.stdout
    );
    w.control_sql("ALTER ROLE tenantgate_app RESET ALL");

    // (where, mutation, finding, repair); a repair of "0007" re-applies that migration.
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "control",
            "ALTER ROLE tenantgate_directory IN DATABASE postgres SET search_path = evil",
            "control - [role-settings]: tenantgate_directory has role-level settings in postgres: search_path=evil",
            "ALTER ROLE tenantgate_directory IN DATABASE postgres RESET ALL",
        ),
        (
            "control",
            "GRANT EXECUTE ON FUNCTION tenantgate.ensure_user(text, text) TO tenantgate_app",
            "[grants]: tenantgate_app may execute tenantgate.ensure_user(text,text)",
            "REVOKE EXECUTE ON FUNCTION tenantgate.ensure_user(text, text) FROM tenantgate_app",
        ),
        (
            "control",
            "GRANT EXECUTE ON FUNCTION tenantgate.resolve_tenant_by_slug(text) TO PUBLIC",
            "[grants]: tenantgate_app may execute tenantgate.resolve_tenant_by_slug(text)",
            "REVOKE EXECUTE ON FUNCTION tenantgate.resolve_tenant_by_slug(text) FROM PUBLIC",
        ),
        (
            "control",
            "GRANT EXECUTE ON FUNCTION tenantgate.remove_member(uuid, inet) TO tenantgate_directory",
            "[grants]: tenantgate_directory may execute tenantgate.remove_member(uuid,inet)",
            "REVOKE EXECUTE ON FUNCTION tenantgate.remove_member(uuid, inet) FROM tenantgate_directory",
        ),
        (
            "control",
            "GRANT SELECT ON tenantgate.tenants TO tenantgate_directory",
            "[grants]: tenantgate_directory may use tenantgate.tenants",
            "REVOKE SELECT ON tenantgate.tenants FROM tenantgate_directory",
        ),
        (
            "control",
            "GRANT INSERT ON tenantgate.role_permissions TO tenantgate_app",
            "[grants]: tenantgate_app may write tenantgate.role_permissions INSERT",
            "REVOKE INSERT ON tenantgate.role_permissions FROM tenantgate_app",
        ),
        (
            "control",
            "GRANT INSERT ON tenantgate.memberships TO tenantgate_app",
            "[grants]: tenantgate_app may write tenantgate.memberships INSERT",
            "REVOKE INSERT ON tenantgate.memberships FROM tenantgate_app",
        ),
        (
            "control",
            "GRANT SELECT ON tenantgate.audit_log TO tenantgate_app",
            "[grants]: tenantgate_app may read or write audit_log.id",
            "REVOKE SELECT ON tenantgate.audit_log FROM tenantgate_app",
        ),
        (
            "control",
            "GRANT EXECUTE ON FUNCTION pg_catalog.pg_cancel_backend(integer) TO PUBLIC",
            "[side-channel]: tenantgate_app may use function pg_catalog.pg_cancel_backend(integer)",
            "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_cancel_backend(integer) FROM PUBLIC",
        ),
        (
            "eu",
            "GRANT EXECUTE ON FUNCTION pg_catalog.pg_database_size(name) TO PUBLIC",
            "eu - [side-channel]: tenantgate_app may use function pg_catalog.pg_database_size(name)",
            "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_database_size(name) FROM PUBLIC",
        ),
        (
            "control",
            "GRANT SELECT ON pg_catalog.pg_stat_activity TO tenantgate_directory",
            "[side-channel]: tenantgate_directory may use view pg_catalog.pg_stat_activity",
            "REVOKE SELECT ON pg_catalog.pg_stat_activity FROM tenantgate_directory",
        ),
        (
            "eu",
            "GRANT EXECUTE ON FUNCTION pg_catalog.lo_from_bytea(oid, bytea) TO tenantgate_app",
            "eu - [side-channel]: tenantgate_app may use function pg_catalog.lo_from_bytea(oid,bytea)",
            "REVOKE EXECUTE ON FUNCTION pg_catalog.lo_from_bytea(oid, bytea) FROM tenantgate_app",
        ),
        (
            "eu",
            "SELECT lo_from_bytea(0, 'left behind')",
            "eu - [large-objects]: 1 large object(s) exist",
            "SELECT lo_unlink(oid) FROM pg_largeobject_metadata",
        ),
        (
            "control",
            "GRANT tenantgate_platform TO tenantgate_app",
            "control - [definer-role]: tenantgate_app may become tenantgate_platform",
            "REVOKE tenantgate_platform FROM tenantgate_app",
        ),
        (
            "control",
            "ALTER ROLE tenantgate_members LOGIN",
            "control - [definer-role]: tenantgate_members can log in",
            "ALTER ROLE tenantgate_members NOLOGIN",
        ),
        (
            "control",
            "GRANT CONNECT ON DATABASE template1 TO PUBLIC",
            "control - [connect]: tenantgate_app may connect to database template1",
            "REVOKE CONNECT ON DATABASE template1 FROM PUBLIC",
        ),
        (
            "control",
            "GRANT TEMPORARY ON DATABASE postgres TO tenantgate_directory",
            "control - [temp]: tenantgate_directory may create temporary tables in database postgres",
            "REVOKE TEMPORARY ON DATABASE postgres FROM tenantgate_directory",
        ),
        (
            "control",
            "ALTER ROLE tenantgate_directory BYPASSRLS",
            "control - [directory-role]: tenantgate_directory has BYPASSRLS",
            "ALTER ROLE tenantgate_directory NOBYPASSRLS",
        ),
    ];
    for (place, mutation, finding, repair) in cases {
        let sql = |s: &str| match *place {
            "eu" => w.eu.psql("postgres", s),
            _ => w.control_sql(s),
        };
        sql(mutation);
        let found = w.tg(&["audit", "isolation"]);
        assert_eq!(
            found.code, 1,
            "{mutation}: the audit passed:\n{}",
            found.stdout
        );
        assert!(
            found.stdout.contains(finding),
            "{mutation}: no `{finding}`:\n{}",
            found.stdout
        );
        // (Re-applying 0007 no longer repairs a grant: the control files after it replaced
        // functions it creates, and 0008 cannot run again after 0011 changed sso_take's type.)
        sql(repair);
        let again = w.tg(&["audit", "isolation"]);
        assert_eq!(
            again.code, 0,
            "after repairing {mutation}:\n{}",
            again.stdout
        );
    }
}
