//! Nothing a backend does outlives its transaction (issue 12), through the host with one
//! pooled connection per database and tenants alternating between the shared (acme), schema
//! (gamma) and dedicated (delta) placements: the host refuses every statement kind that would (the database is left
//! unchanged), the database refuses the side channels the host lets through as queries, and
//! session settings made by a query never reach the next request.

use serde_json::Value;

use crate::hostile::cell;
use crate::world::*;

/// The first cells of every statement's result.
fn cells(out: &Value, n: usize) -> Vec<String> {
    (0..n).map(|i| cell(out, i)).collect()
}

/// `SELECT count(*)` of `t`'s tasks on a raw connection bound to `t`'s context.
fn raw_own_count(t: &Tenant) -> Vec<String> {
    vec![
        format!(
            "SELECT set_config('tenantgate.context', '{}', false) IS NOT NULL",
            ctx(t)
        ),
        format!("SELECT count(*) FROM {}.tasks", t.sch.unwrap_or("app")),
    ]
}

#[tokio::test]
async fn the_host_refuses_what_would_outlive_the_transaction_and_postgres_the_side_channels() {
    let w = World::start().await;
    let before = w.main.psql(
        "postgres",
        "SELECT count(*) || '/' || (SELECT rolpassword IS NULL FROM pg_authid WHERE rolname = 'tenantgate_app') \
         FROM pg_db_role_setting",
    );
    let refused_by_the_host = [
        (
            "ALTER ROLE CURRENT_USER SET statement_timeout = '1ms'",
            "ALTER ROLE",
        ),
        (
            "ALTER ROLE CURRENT_USER SET default_transaction_read_only = on",
            "ALTER ROLE",
        ),
        ("ALTER ROLE tenantgate_app PASSWORD 'owned'", "ALTER ROLE"),
        (
            "ALTER ROLE CURRENT_USER IN DATABASE postgres SET search_path = tenant_gamma",
            "ALTER ROLE",
        ),
        ("ALTER USER CURRENT_USER SET work_mem = '64kB'", "ALTER"),
        ("SET statement_timeout = '1ms'", "SET"),
        ("SET SESSION search_path = tenant_gamma", "SET"),
        ("RESET ALL", "RESET"),
        ("DISCARD ALL", "DISCARD"),
        ("COPY app.tasks TO STDOUT", "COPY"),
        ("EXPLAIN ANALYZE SELECT * FROM app.tasks", "EXPLAIN"),
        ("LISTEN tenants", "LISTEN"),
        ("NOTIFY tenants, 'x'", "NOTIFY"),
        ("DO $$ BEGIN PERFORM 1; END $$", ""),
        ("PREPARE stash AS SELECT 1", "PREPARE"),
        ("LOCK TABLE app.tasks IN ACCESS EXCLUSIVE MODE", ""),
        ("CREATE TEMP TABLE loot (x int)", "CREATE"),
        ("GRANT SELECT ON app.tasks TO PUBLIC", "GRANT"),
        ("SELECT * INTO app.loot FROM app.tasks", "SELECT ... INTO"),
        (
            "SELECT 1; ALTER ROLE CURRENT_USER SET work_mem = '64kB'",
            "ALTER ROLE",
        ),
        ("SELEKT 1", "the text does not parse"),
    ];
    // Queries the host lets through, which the database refuses (migrations 0006/0007).
    let refused_by_postgres = [
        "SELECT count(query) FROM pg_stat_activity",
        "SELECT pg_cancel_backend(pg_backend_pid())",
        "SELECT lo_from_bytea(0, 'loot')",
        "SELECT sum(n_live_tup) FROM pg_stat_user_tables",
        "SELECT slug FROM tenantgate.resolve_tenant_by_slug('globex')",
        "SELECT tenantgate.ensure_user('someone@globex.test', 'x')",
        "SELECT pg_notify('tenants', 'x')",
    ];
    for round in 0..2 {
        for t in [&ACME, &GAMMA, &DELTA] {
            let url = w.app_url(t);
            for via in ["raw", "library"] {
                let context = (via == "library").then(|| ctx(t));
                let (control, want): (Vec<String>, Vec<String>) = if via == "raw" {
                    (raw_own_count(t), vec!["true".into(), "3".into()])
                } else {
                    (vec!["SELECT count(*) FROM tasks".into()], vec!["3".into()])
                };
                let mut statements = control.clone();
                statements.extend(refused_by_the_host.iter().map(|(s, _)| s.to_string()));
                statements.extend(refused_by_postgres.iter().map(|s| s.to_string()));
                // The control again at the end (in a library transaction each Postgres refusal
                // aborts it, so only the raw connection runs it).
                if via == "raw" {
                    statements.extend(control.clone());
                }
                let (status, out) = w.hostile(via, &url, context.as_deref(), &statements).await;
                let what = format!("round {round}, {} via {via}", t.slug);
                assert_eq!(status, 200, "{what}: {out}");
                assert_eq!(cells(&out, want.len()), want, "{what}: control: {out}");
                for (i, (sql, kind)) in refused_by_the_host.iter().enumerate() {
                    let got = cell(&out, want.len() + i);
                    assert!(
                        got.contains(&format!("statement refused by the host: {kind}")),
                        "{what}: {sql}: {got}"
                    );
                }
                let first_pg = want.len() + refused_by_the_host.len();
                let pg_refusals = if via == "raw" {
                    refused_by_postgres.len()
                } else {
                    1 // then the transaction is aborted
                };
                for (i, sql) in refused_by_postgres.iter().take(pg_refusals).enumerate() {
                    let got = cell(&out, first_pg + i);
                    // A dedicated database has no control plane: no directory functions at all.
                    let absent = t.plc == "dedicated" && sql.contains("tenantgate.");
                    assert!(
                        got.contains("permission denied")
                            || (absent && got.contains("does not exist")),
                        "{what}: {sql}: {got}"
                    );
                }
                if via == "raw" {
                    let end = first_pg + refused_by_postgres.len();
                    assert_eq!(
                        (end..end + want.len())
                            .map(|i| cell(&out, i))
                            .collect::<Vec<_>>(),
                        want,
                        "{what}: control after the refusals"
                    );
                }
            }
        }
    }
    // Nothing reached the database: no role settings, the password untouched, and every
    // tenant served as before.
    let dedicated = w
        .dedicated
        .psql("postgres", "SELECT count(*) FROM pg_db_role_setting");
    assert_eq!(dedicated, "0", "the dedicated server's roles are unchanged");
    let after = w.main.psql(
        "postgres",
        "SELECT count(*) || '/' || (SELECT rolpassword IS NULL FROM pg_authid WHERE rolname = 'tenantgate_app') \
         FROM pg_db_role_setting",
    );
    assert_eq!(after, before);
    for t in [&ACME, &GAMMA, &GLOBEX, &DELTA] {
        let (s, page) = w.api("GET", "/api/tasks", Some(&ctx(t)), None).await;
        assert_eq!(
            (s, page["items"].as_array().map(Vec::len)),
            (200, Some(3)),
            "{}",
            t.slug
        );
    }
}

#[tokio::test]
async fn session_settings_made_by_a_query_never_reach_the_next_request() {
    let w = World::start().await;
    let url = w.app_url(&ACME);
    let probe: Vec<String> = [
        "SELECT pg_backend_pid()",
        "SELECT current_setting('search_path')",
        "SELECT current_setting('statement_timeout')",
        "SELECT current_setting('default_transaction_read_only')",
        "SELECT current_setting('work_mem')",
        "SELECT current_setting('application_name')",
        "SELECT coalesce(current_setting('tenantgate.context', true), '')",
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()",
        "SELECT count(*) FROM app.tasks",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (_, clean) = w.hostile("raw", &url, None, &probe).await;
    let baseline = cells(&clean, probe.len());
    assert_eq!(baseline[8], "0", "no context, no rows: {clean}");

    // Session-level settings through queries (the host cannot refuse a SELECT), made by acme
    // on a raw connection and by gamma inside its library transaction, which commits them.
    let dirt = |t: &Tenant| -> Vec<String> {
        vec![
            "SELECT set_config('search_path', 'tenant_gamma', false)".into(),
            "SELECT set_config('statement_timeout', '5min', false)".into(),
            "SELECT set_config('default_transaction_read_only', 'on', false)".into(),
            "SELECT set_config('work_mem', '64kB', false)".into(),
            format!(
                "SELECT set_config('application_name', '{}-was-here', false)",
                t.slug
            ),
            format!(
                "SELECT set_config('tenantgate.context', '{}', false) IS NOT NULL",
                ctx(t)
            ),
            "SELECT pg_advisory_lock(7)::text".into(),
        ]
    };
    for (t, via) in [
        (&ACME, "raw"),
        (&GAMMA, "library"),
        (&ACME, "library"),
        (&GAMMA, "raw"),
    ] {
        let context = (via == "library").then(|| ctx(t));
        let (status, out) = w.hostile(via, &url, context.as_deref(), &dirt(t)).await;
        assert_eq!(status, 200, "{} via {via}: {out}", t.slug);
        assert_eq!(
            cell(&out, 3),
            "64kB",
            "{} via {via}: the setting took: {out}",
            t.slug
        );
        // The next request, on the very same connection, finds none of it.
        let (_, next) = w.hostile("raw", &url, None, &probe).await;
        assert_eq!(
            cells(&next, probe.len()),
            baseline,
            "after {} via {via}: {next}",
            t.slug
        );
        // And a well-behaved backend of either tenant works as usual.
        for other in [&ACME, &GAMMA] {
            let (s, page) = w.api("GET", "/api/tasks", Some(&ctx(other)), None).await;
            assert_eq!((s, page["items"].as_array().map(Vec::len)), (200, Some(3)));
        }
    }
}

#[tokio::test]
async fn a_transaction_left_open_under_spins_recycling_reaches_no_tenant_db_request() {
    // Spin's pool rolls nothing back: a connection goes back inside whatever transaction a
    // request left open, and the next request on it continues that transaction. tenant-db
    // starts every unit of work with ROLLBACK, so a backend built on it neither sees nor
    // commits what an earlier request left: shown here with the host recycling as Spin does
    // and one pooled connection per database.
    let w = World::start_as_spin().await;
    let url = w.app_url(&ACME);
    let in_leaked_tx = ["SELECT (txid_current_if_assigned() IS NOT NULL)::text".to_string()];
    let acme_task = ACME.tasks[0];
    let leave_open = |title: &str| -> Vec<String> {
        vec![
            "BEGIN".into(),
            format!(
                "SELECT set_config('tenantgate.context', '{}', true) IS NOT NULL",
                ctx(&ACME)
            ),
            format!("UPDATE app.tasks SET title = '{title}' WHERE id = '{acme_task}' RETURNING 1"),
        ]
    };
    // Control: the raw request after it continues the very transaction (Spin's behaviour,
    // reproduced), so the test below would see a leak if tenant-db let one through.
    let (status, out) = w.hostile("raw", &url, None, &leave_open("leaked")).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        cell(&out, 2),
        "1",
        "the update ran inside the open transaction: {out}"
    );
    let (_, next) = w.hostile("raw", &url, None, &in_leaked_tx).await;
    assert_eq!(
        cell(&next, 0),
        "true",
        "under Spin's recycling the next request is inside the left-open transaction: {next}"
    );

    // Leave it open again, then the well-behaved backend of each tenant.
    let (status, out) = w.hostile("raw", &url, None, &leave_open("hijacked")).await;
    assert_eq!((status, cell(&out, 2)), (200, "1".to_string()), "{out}");
    for t in [&GAMMA, &ACME] {
        let (s, page) = w.api("GET", "/api/tasks", Some(&ctx(t)), None).await;
        assert_eq!(
            (s, page["items"].as_array().map(Vec::len)),
            (200, Some(3)),
            "{} {page}",
            t.slug
        );
        let titles = page.to_string();
        assert!(
            !titles.contains("hijacked") && !titles.contains("leaked"),
            "{titles}"
        );
    }
    // tenant-db rolled the leaked transaction back rather than committing it with its own.
    let (s, created) = w
        .api(
            "POST",
            "/api/projects",
            Some(&ctx(&ACME)),
            Some(serde_json::json!({ "name": "after" })),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    let titles = w.main.psql(
        "postgres",
        &format!("SELECT title FROM app.tasks WHERE id = '{acme_task}'"),
    );
    assert!(
        !titles.contains("hijacked") && !titles.contains("leaked"),
        "nothing the open transaction did was committed: {titles}"
    );
    let (_, after) = w.hostile("raw", &url, None, &in_leaked_tx).await;
    assert_eq!(
        cell(&after, 0),
        "false",
        "no transaction is left open: {after}"
    );
}

#[tokio::test]
async fn a_session_advisory_lock_left_under_spins_recycling_is_released_by_the_next_tenant_db_request(
) {
    // Spin's pool resets nothing, so a session-level advisory lock a request leaves stays on
    // the pooled connection. tenant-db releases advisory locks in the statement that binds the
    // context, so the next tenant-db request on that connection writes and the lock is gone.
    let w = World::start_as_spin().await;
    let url = w.app_url(&ACME);
    let advisory_locks = || {
        w.main.psql(
            "postgres",
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242",
        )
    };
    let leave = ["SELECT pg_advisory_lock(4242)::text".to_string()];
    let (status, out) = w.hostile("raw", &url, None, &leave).await;
    assert_eq!(status, 200, "{out}");
    // Control: the lock outlives the request under Spin's recycling, so the test below would
    // see a leak if tenant-db let one through.
    assert_eq!(advisory_locks(), "1");

    // The well-behaved backend writes on that connection, and the lock is released.
    let (s, created) = w
        .api(
            "POST",
            "/api/projects",
            Some(&ctx(&ACME)),
            Some(serde_json::json!({ "name": "despite the leftovers" })),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(
        w.main.psql(
            "postgres",
            "SELECT count(*) FROM app.projects WHERE name = 'despite the leftovers'"
        ),
        "1"
    );
    assert_eq!(advisory_locks(), "0");
}
