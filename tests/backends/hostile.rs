//! A component that runs whatever SQL it likes, as the application role, cannot read or
//! change another tenant's rows, and leaves nothing behind on its pooled connection.

use serde_json::{json, Value};

use crate::world::*;

/// The `i`th statement's result: the first cell as text, or `ERR <message>`.
pub fn cell(v: &Value, i: usize) -> String {
    let r = &v["results"][i];
    if let Some(e) = r["error"].as_str() {
        return format!("ERR {e}");
    }
    match &r["rows"][0][0] {
        Value::String(s) => s.clone(),
        Value::Null => "NULL".into(),
        other => other.to_string(),
    }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn arbitrary_sql_stays_inside_its_tenant() {
    let w = World::start().await;
    let before: Vec<String> = [&ACME, &GLOBEX, &GAMMA]
        .iter()
        .flat_map(|t| [w.checksum(t, "tasks"), w.checksum(t, "projects")])
        .collect();
    let url = w.app_url(&ACME);
    let acme = ctx(&ACME);
    let globex_valid = ctx(&GLOBEX);
    let mut swapped: Vec<String> = acme.split('.').map(str::to_owned).collect();
    swapped[2] = globex_valid.split('.').nth(2).unwrap().to_owned();
    let swapped = swapped.join(".");
    let forged = sign_claims(
        &claims(&GLOBEX, &GLOBEX, &["tasks.read"]),
        b"attacker-made-key-attacker-made!",
    );
    let mut old = claims(&GLOBEX, &GLOBEX, &["tasks.read"]);
    old["exp"] = json!(now() - 5);
    let expired = sign_claims(&old, KEY);
    let count_globex = format!(
        "SELECT count(*) FROM tasks WHERE tenant_id = '{}'",
        GLOBEX.id
    );

    // (what, statements, expected first cell of each statement; "ERR" matches any error)
    let cases: Vec<(&str, Vec<String>, Vec<&str>)> = vec![
        (
            "control: own rows",
            s(&["SELECT count(*) FROM tasks"]),
            vec!["3"],
        ),
        (
            "filter on another tenant",
            vec![count_globex.clone()],
            vec!["0"],
        ),
        (
            "control: a genuine globex context does open globex",
            vec![
                format!("SELECT set_config('tenantgate.context', '{globex_valid}', true)"),
                count_globex.clone(),
            ],
            vec![&globex_valid, "3"],
        ),
        (
            "another tenant's claims under our signature",
            vec![
                format!("SELECT set_config('tenantgate.context', '{swapped}', true) IS NOT NULL"),
                count_globex.clone(),
                "SELECT count(*) FROM tasks".into(),
            ],
            vec!["true", "0", "0"],
        ),
        (
            "a context signed with a made-up key",
            vec![
                format!("SELECT set_config('tenantgate.context', '{forged}', true) IS NOT NULL"),
                count_globex.clone(),
            ],
            vec!["true", "0"],
        ),
        (
            "an expired genuine context",
            vec![
                format!("SELECT set_config('tenantgate.context', '{expired}', true) IS NOT NULL"),
                count_globex.clone(),
            ],
            vec!["true", "0"],
        ),
        (
            "session-level set_config of a forged context",
            vec![
                format!("SELECT set_config('tenantgate.context', '{forged}', false) IS NOT NULL"),
                count_globex.clone(),
            ],
            vec!["true", "0"],
        ),
        (
            "role games",
            s(&[
                "RESET ROLE",
                "SELECT current_user::text",
                "SET ROLE tenantgate_owner",
                "SET ROLE postgres",
                "SET SESSION AUTHORIZATION postgres",
                "SET ROLE tenantgate_resolver",
            ]),
            // RESET and SET are refused by the host; SET ROLE would be refused by Postgres too.
            vec!["ERR", "tenantgate_app", "ERR", "ERR", "ERR", "ERR"],
        ),
        (
            "the key table and the verifier",
            s(&[
                "SELECT count(*) FROM tenantgate_private.context_keys",
                "SELECT tenantgate_private.verify_context('x')",
            ]),
            vec!["ERR", "ERR"],
        ),
        ("TRUNCATE", s(&["TRUNCATE tasks"]), vec!["ERR"]),
        (
            "TRUNCATE projects cascade",
            s(&["TRUNCATE projects CASCADE"]),
            vec!["ERR"],
        ),
        (
            "row_security off",
            // The host refuses the SET (it never reaches Postgres, whose RLS would refuse the
            // query that follows: tests/data_plane); the transaction goes on under RLS.
            s(&["SET row_security = off", "SELECT count(*) FROM tasks"]),
            vec!["ERR", "3"],
        ),
        (
            "disable RLS",
            s(&["ALTER TABLE tasks DISABLE ROW LEVEL SECURITY"]),
            vec!["ERR"],
        ),
        (
            "drop the policy",
            s(&["DROP POLICY tenant_isolation ON tasks"]),
            vec!["ERR"],
        ),
        (
            "temp table",
            s(&["CREATE TEMP TABLE loot AS SELECT * FROM tasks"]),
            vec!["ERR"],
        ),
        (
            "a new table",
            s(&["CREATE TABLE app.loot (x int)"]),
            vec!["ERR"],
        ),
        (
            "multi-statement string",
            vec![format!(
                "SELECT 1; DELETE FROM tasks WHERE tenant_id = '{}'",
                GLOBEX.id
            )],
            vec!["ERR"],
        ),
        (
            "another schema by name",
            vec![format!(
                "SELECT count(*) FROM tenant_gamma.tasks WHERE tenant_id = '{}'",
                GAMMA.id
            )],
            vec!["0"],
        ),
        (
            "delete everything visible (rolled back after)",
            vec![
                format!(
                    "WITH d AS (DELETE FROM tasks RETURNING tenant_id) \
                     SELECT count(*) || '/' || count(*) FILTER (WHERE tenant_id <> '{}') FROM d",
                    ACME.id
                ),
                "SELECT 1/0".into(),
            ],
            vec!["3/0", "ERR"],
        ),
    ];
    for (what, statements, expected) in &cases {
        let (status, out) = w.hostile("library", &url, Some(&acme), statements).await;
        assert_eq!(status, 200, "{what}: {out}");
        for (i, want) in expected.iter().enumerate() {
            let got = cell(&out, i);
            if *want == "ERR" {
                assert!(
                    got.starts_with("ERR"),
                    "{what}: statement {i} should fail, got {got}"
                );
            } else {
                assert_eq!(&got, want, "{what}: statement {i}: {out}");
            }
        }
    }
    // A schema tenant's own context, as the control for "another schema by name".
    let (_, out) = w
        .hostile(
            "library",
            &url,
            Some(&ctx(&GAMMA)),
            &s(&["SELECT count(*) FROM tenant_gamma.tasks"]),
        )
        .await;
    assert_eq!(cell(&out, 0), "3");

    let after: Vec<String> = [&ACME, &GLOBEX, &GAMMA]
        .iter()
        .flat_map(|t| [w.checksum(t, "tasks"), w.checksum(t, "projects")])
        .collect();
    assert_eq!(after, before, "no tenant's rows changed");
    // The library refuses to run a component's work under a context Postgres rejects.
    let (status, out) = w
        .hostile("library", &url, Some(&swapped), &s(&["SELECT 1"]))
        .await;
    assert_eq!(
        (status, out["code"].clone()),
        (401, json!("invalid_context")),
        "{out}"
    );
}

/// With the host's statement filter off, as on Spin: the pool's reset is what cleans up.
#[tokio::test]
async fn raw_connections_see_nothing_without_a_context_and_come_back_clean() {
    let w = World::start_with(tenantgate_host::outbound_pg::StatementFilter::Off).await;
    let url = w.app_url(&ACME);
    let acme = ctx(&ACME);
    // No context at all: no rows, not all rows. Control: bound, it sees acme's three.
    let (_, out) = w
        .hostile(
            "raw",
            &url,
            None,
            &[
                "SELECT count(*) FROM app.tasks".into(),
                "SELECT set_config('tenantgate.context', '', false)".into(),
                "SELECT count(*) FROM app.tasks".into(),
                format!("SELECT set_config('tenantgate.context', '{acme}', false) IS NOT NULL"),
                "SELECT count(*) FROM app.tasks".into(),
            ],
        )
        .await;
    assert_eq!(
        (0..5).map(|i| cell(&out, i)).collect::<Vec<_>>(),
        vec!["0", "", "0", "true", "3"],
        "{out}"
    );

    // A request that leaves everything dirty: an open transaction holding acme's
    // context, a session-level context, settings, a prepared statement, a lock.
    let (_, dirty) = w
        .hostile(
            "raw",
            &url,
            None,
            &[
                "SELECT pg_backend_pid()".into(),
                format!("SELECT set_config('tenantgate.context', '{acme}', false) IS NOT NULL"),
                "BEGIN".into(),
                "SELECT now()::text".into(),
                format!("SELECT set_config('tenantgate.context', '{acme}', true) IS NOT NULL"),
                "SET search_path = tenant_gamma".into(),
                "SET work_mem = '64kB'".into(),
                "PREPARE stash AS SELECT title FROM app.tasks".into(),
                "SELECT pg_advisory_lock(42)::text".into(),
                "SELECT count(*) FROM app.tasks".into(),
            ],
        )
        .await;
    assert_eq!(cell(&dirty, 9), "3", "{dirty}");
    let pid = cell(&dirty, 0);
    let dirty_tx_start = cell(&dirty, 3);

    // The next request gets the same connection (pool of one), and none of it.
    let (_, next) = w
        .hostile(
            "raw",
            &url,
            None,
            &s(&[
                "SELECT pg_backend_pid()",
                "SELECT coalesce(current_setting('tenantgate.context', true), '')",
                "SELECT count(*) FROM app.tasks",
                "SELECT current_setting('search_path')",
                "SELECT current_setting('work_mem')",
                &format!("SELECT now() > '{dirty_tx_start}'::timestamptz"),
                // pg_prepared_statements is closed to the application role (0012): the
                // statement itself is the probe.
                "EXECUTE stash",
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()",
            ]),
        )
        .await;
    let stash = cell(&next, 6);
    assert!(
        stash.contains("prepared statement \"stash\" does not exist"),
        "{next}"
    );
    assert_eq!(
        (0..8).map(|i| cell(&next, i)).collect::<Vec<_>>(),
        vec![
            pid.as_str(),
            "",
            "0",
            "\"$user\", public",
            "4MB",
            "true",
            stash.as_str(),
            "0"
        ],
        "{next}"
    );
    // And a well-behaved backend on that connection works as usual.
    let (s, page) = w.api("GET", "/api/tasks", Some(&acme), None).await;
    assert_eq!((s, page["items"].as_array().map(Vec::len)), (200, Some(3)));
}
