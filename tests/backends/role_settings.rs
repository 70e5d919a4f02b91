//! A backend that persists role-level settings for the application role (`ALTER ROLE CURRENT_USER
//! SET ...`, which PostgreSQL lets every role do) or changes its password cannot stop or change
//! any later connection made the deployment's way: the connection string pins those settings in
//! its startup packet (`control/connection-options.conf`), which outranks role settings
//! (issue 22 item 5). The host's statement filter is off here, as on Spin, so every statement of
//! the hostile component reaches Postgres.

use serde_json::Value;
use tenantgate_host::outbound_pg::StatementFilter;

use crate::hostile::cell;
use crate::world::*;

/// What the hostile backend persists: (statement, the setting as pg_db_role_setting then holds it).
const PERSISTED: &[(&str, &str)] = &[
    (
        "ALTER ROLE CURRENT_USER SET statement_timeout = '1ms'",
        "statement_timeout=1ms",
    ),
    (
        "ALTER ROLE CURRENT_USER SET lock_timeout = '1ms'",
        "lock_timeout=1ms",
    ),
    (
        "ALTER ROLE CURRENT_USER SET idle_in_transaction_session_timeout = '1ms'",
        "idle_in_transaction_session_timeout=1ms",
    ),
    (
        "ALTER ROLE CURRENT_USER SET default_transaction_read_only = on",
        "default_transaction_read_only=on",
    ),
    (
        "ALTER ROLE CURRENT_USER SET default_transaction_isolation = 'serializable'",
        "default_transaction_isolation=serializable",
    ),
    (
        "ALTER ROLE CURRENT_USER SET row_security = off",
        "row_security=off",
    ),
    (
        "ALTER ROLE CURRENT_USER SET search_path = evil",
        "search_path=evil",
    ),
    (
        "ALTER ROLE CURRENT_USER SET exit_on_error = on",
        "exit_on_error=on",
    ),
    (
        "ALTER ROLE CURRENT_USER SET plpgsql.extra_errors = 'all'",
        "plpgsql.extra_errors=all",
    ),
    // A library that does not exist: every login of the role fails (FATAL) unless pinned.
    (
        "ALTER ROLE CURRENT_USER SET local_preload_libraries = 'nope'",
        "local_preload_libraries=nope",
    ),
    (
        "ALTER ROLE CURRENT_USER IN DATABASE postgres SET TimeZone = 'Pacific/Kiritimati'",
        "TimeZone=Pacific/Kiritimati",
    ),
    (
        "ALTER ROLE CURRENT_USER IN DATABASE postgres SET bytea_output = 'escape'",
        "bytea_output=escape",
    ),
];

/// The settings a later connection must have, and what each reads as there.
const PINNED: &[(&str, &str)] = &[
    ("statement_timeout", "0"),
    ("lock_timeout", "0"),
    ("idle_in_transaction_session_timeout", "0"),
    ("default_transaction_read_only", "off"),
    ("default_transaction_isolation", "read committed"),
    ("row_security", "on"),
    ("exit_on_error", "off"),
    ("plpgsql.extra_errors", "none"),
    ("local_preload_libraries", ""),
    ("TimeZone", "UTC"),
    ("bytea_output", "hex"),
];

/// `url` with one more query parameter (a connection string the host has no pool for yet).
fn with_param(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

fn results(out: &Value) -> Vec<String> {
    (0..out["results"].as_array().map_or(0, Vec::len))
        .map(|i| cell(out, i))
        .collect()
}

#[tokio::test]
async fn persisted_role_settings_and_a_new_password_change_no_later_connection() {
    let w = World::start_with(StatementFilter::Off).await;
    let acme = ctx(&ACME);

    // The attack: acme's backend, on its own pooled connection (made the deployment's way),
    // persists every setting and changes the role's password. Each statement succeeds.
    let mut attack: Vec<String> = vec!["SELECT tenantgate.current_tenant_id()::text".into()];
    attack.extend(PERSISTED.iter().map(|(sql, _)| sql.to_string()));
    attack.push("ALTER ROLE CURRENT_USER PASSWORD 'owned-by-acme'".into());
    let (status, out) = w
        .hostile("raw", &w.app_url(&ACME), Some(&acme), &attack)
        .await;
    assert_eq!(status, 200, "{out}");
    assert!(!results(&out).iter().any(|r| r.starts_with("ERR")), "{out}");

    // Control: it all really persisted, so a connection without the pinned options would get it.
    let stored = w.main.psql(
        "postgres",
        "SELECT string_agg(array_to_string(s.setconfig, ','), ',') FROM pg_db_role_setting s \
         JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname = 'tenantgate_app'",
    );
    for (_, setting) in PERSISTED {
        assert!(
            stored.split(',').any(|s| s == *setting),
            "{setting} in {stored}"
        );
    }
    assert_eq!(
        w.main.psql(
            "postgres",
            "SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = 'tenantgate_app'"
        ),
        "t"
    );
    // Control: without the pinned options, no connection of the role logs in at all any more.
    let bare = tokio_postgres::connect(
        &w.main.url_unpinned("tenantgate_app", "postgres"),
        tokio_postgres::NoTls,
    )
    .await
    .err()
    .map(|e| {
        e.as_db_error()
            .map(|d| d.message().to_owned())
            .unwrap_or_else(|| e.to_string())
    })
    .expect("an unpinned login is refused");
    assert!(bare.contains("$libdir/plugins/nope"), "{bare}");
    let (status, out) = w
        .hostile(
            "raw",
            &with_param(
                &w.main.url_unpinned("tenantgate_app", "postgres"),
                "application_name=bare",
            ),
            None,
            &["SELECT 1".into()],
        )
        .await;
    assert_eq!(status, 503, "{out}");
    assert!(
        out["error"].to_string().contains("ConnectionFailed"),
        "{out}"
    );

    // A later connection for other tenants, made the deployment's way: a connection string the
    // host has no pooled connection for yet (another application_name), opened by the host for
    // globex's request through tenant-db, as any backend runs. It sees the pinned values, reads
    // globex's rows and writes.
    let fresh = with_param(&w.app_url(&GLOBEX), "application_name=later");
    let globex = ctx(&GLOBEX);
    let mut probe: Vec<String> = PINNED
        .iter()
        .map(|(name, _)| format!("SELECT current_setting('{name}')"))
        .collect();
    probe.push("SELECT current_setting('application_name')".into());
    probe.push("SELECT count(*) FROM tasks".into());
    probe.push(format!(
        "UPDATE tasks SET done = done WHERE id = '{}'",
        GLOBEX.tasks[0]
    ));
    let (status, out) = w.hostile("library", &fresh, Some(&globex), &probe).await;
    assert_eq!(status, 200, "{out}");
    let mut expected: Vec<String> = PINNED.iter().map(|(_, v)| v.to_string()).collect();
    expected.extend(["later".into(), "3".into()]);
    let got = results(&out);
    assert_eq!(got[..expected.len()], expected[..], "{out}");
    assert_eq!(out["results"][expected.len()]["affected"], 1, "{out}");

    // The same for the schema tenant, and for a direct connection made with the deployment's URL.
    let (status, out) = w
        .hostile(
            "library",
            &fresh,
            Some(&ctx(&GAMMA)),
            &[
                "SELECT current_setting('statement_timeout')".into(),
                "SELECT count(*) FROM tasks".into(),
            ],
        )
        .await;
    assert_eq!(
        (status, results(&out)),
        (200, vec!["0".into(), "3".into()]),
        "{out}"
    );
    let (client, conn) = tokio_postgres::connect(
        &w.main.url_as("tenantgate_app", "postgres"),
        tokio_postgres::NoTls,
    )
    .await
    .expect("the password change does not lock the role out (trust on loopback)");
    tokio::spawn(conn);
    for (name, value) in PINNED {
        let row = client
            .query_one(&format!("SHOW {name}"), &[])
            .await
            .unwrap();
        assert_eq!(row.get::<_, String>(0), *value, "SHOW {name}");
    }
    // And the tasks API on its existing pooled connection carries on for every tenant.
    for t in [&ACME, &GLOBEX, &GAMMA, &DELTA] {
        let (s, page) = w.api("GET", "/api/tasks", Some(&ctx(t)), None).await;
        assert_eq!(
            (s, page["items"].as_array().map(Vec::len)),
            (200, Some(3)),
            "{}",
            t.slug
        );
    }
}
