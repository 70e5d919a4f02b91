//! `tenantgate tenant move` shared -> schema -> dedicated -> shared, with the real gateway and tasks
//! components serving the tenant throughout; failed moves leave the old placement authoritative.
//! Each move pauses at its read-only point (the test-only `--test-pause-dir` hook), so the refusal
//! of writes and the byte-for-byte comparison are checked on every move, not in a timing window.

use std::time::{Duration, Instant};

use serde_json::Value;
use tenantgate_control::moves::PAUSE_READ_ONLY;
use tenantgate_tests::dataplane;
use tenantgate_tests::fixtures::{component, target_dir};
use tenantgate_tests::host::{client, AppBuilder, TestHost};
use tenantgate_tests::workspace_root;

use crate::cli::World;

pub(crate) const KEY: &[u8] = b"control-test-key-32-bytes-long!!";

pub(crate) async fn start_gateway(w: &World) -> TestHost {
    component("gateway");
    let wasm_dir = target_dir().join("wasm32-wasip2/release/");
    let manifest = std::fs::read_to_string(workspace_root().join("spin.toml"))
        .unwrap()
        .replace(
            "target/wasm32-wasip2/release/",
            &wasm_dir.display().to_string(),
        );
    AppBuilder::new(&manifest)
        .runtime_config("[key_value_store.default]\ntype = \"spin\"\n")
        .env(
            "SPIN_VARIABLE_DATABASE_URL",
            &w.control.url_as("tenantgate_app", "postgres"),
        )
        .env(
            "SPIN_VARIABLE_DIRECTORY_DATABASE_URL",
            &w.control.url_as("tenantgate_directory", "postgres"),
        )
        .env(
            "SPIN_VARIABLE_DATABASE_HOST",
            &format!("127.0.0.1:{}", w.control.port()),
        )
        .env(
            "SPIN_VARIABLE_DEDICATED_DATABASE_HOST",
            &format!("127.0.0.1:{}", w.eu.port()),
        )
        .env(
            "SPIN_VARIABLE_DATABASE_TARGETS",
            &format!("eu={}", w.eu.url_as("tenantgate_app", "postgres")),
        )
        .env("SPIN_VARIABLE_CONTEXT_KEY", &dataplane::hex(KEY))
        .env(
            "SPIN_VARIABLE_ANONYMOUS_PERMISSIONS",
            "tasks.read,tasks.write",
        )
        // These tests poll one tenant from one address; the free plan's limits are tested
        // in tests/gateway/limits.rs.
        .env("SPIN_VARIABLE_RATE_LIMITS", "off")
        .start()
        .await
}

async fn call(
    host: &TestHost,
    method: &str,
    slug: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = client()
        .request(method.parse().unwrap(), host.url(path))
        .header("host", format!("{slug}.localhost"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Releases a paused move when dropped, so that a failed assertion does not leave it waiting.
struct Release(std::path::PathBuf);

impl Drop for Release {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.0, "");
    }
}

/// Every task title of the tenant, following the pages.
async fn titles(host: &TestHost, slug: &str) -> Vec<String> {
    let mut t = Vec::new();
    let mut path = "/api/tasks?limit=100".to_string();
    loop {
        let (status, v) = call(host, "GET", slug, &path, None).await;
        assert_eq!(status, 200, "{v}");
        t.extend(
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["title"].as_str().unwrap().to_string()),
        );
        match v["next"].as_str() {
            Some(cursor) => path = format!("/api/tasks?limit=100&after={cursor}"),
            None => break,
        }
    }
    t.sort();
    t
}

/// Rows of tenant `id` in `schema` of a cluster, as a checksum over their text.
fn rows(pg: &tenantgate_tests::postgres::PgCluster, schema: &str, id: &str) -> String {
    pg.psql(
        "postgres",
        &format!(
            "SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') FROM ( \
               SELECT p::text AS x FROM {schema}.projects p WHERE tenant_id = '{id}' \
               UNION ALL SELECT t::text FROM {schema}.tasks t WHERE tenant_id = '{id}') s"
        ),
    )
    .trim()
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_move_round_trip_keeps_the_data_and_the_gateway_follows() {
    let w = World::start();
    w.tg(&["migrate"]).ok();
    dataplane::add_context_key(&w.control, "k1", KEY);
    w.tg(&["tenant", "create", "acme", "--name", "Acme"]).ok();
    w.tg(&["tenant", "create", "globex", "--name", "Globex"])
        .ok();
    let id = |slug: &str| {
        w.control_sql(&format!(
            "SELECT id FROM tenantgate.tenants WHERE slug = '{slug}'"
        ))
    };
    let (acme, globex) = (id("acme"), id("globex"));
    w.control_sql(&format!(
        "INSERT INTO app.projects (tenant_id, id, name) VALUES ('{acme}', 'a1000000-0000-4000-8000-000000000001', 'Launch'), \
                ('{globex}', 'b1000000-0000-4000-8000-000000000001', 'Plan');
         INSERT INTO app.tasks (tenant_id, project_id, title, description) SELECT '{acme}', 'a1000000-0000-4000-8000-000000000001', \
                'acme task ' || i, repeat('x', i) FROM generate_series(1, 40) AS i;
         INSERT INTO app.tasks (tenant_id, project_id, title) VALUES ('{globex}', 'b1000000-0000-4000-8000-000000000001', 'globex task');"
    ));
    let host = start_gateway(&w).await;
    let mut expected = titles(&host, "acme").await;
    assert_eq!(expected.len(), 40);
    let globex_before = rows(&w.control, "app", &globex);

    let steps: &[(&[&str], &str)] = &[
        (&["--placement", "schema"], "schema:control/tenant_acme"),
        (
            &["--placement", "dedicated", "--database", "eu"],
            "dedicated:eu",
        ),
        (&["--placement", "shared"], "shared"),
    ];
    let mut before = rows(&w.control, "app", &acme);
    let mut old = (&w.control, "app");
    for (n, (placement, key)) in steps.iter().enumerate() {
        // The move runs in the background and pauses (its test-only hook) once the tenant is
        // read-only and the settle period, longer than the gateway's 5 s cache bound, has passed:
        // from there on every write must be refused and every read served, for as long as the test
        // looks. Nothing is copied until the test releases it.
        let pause = tempfile::tempdir().unwrap();
        let args: Vec<String> = ["tenant", "move", "acme"]
            .iter()
            .chain(placement.iter())
            .chain(["--settle-secs", "6", "--test-pause-dir"].iter())
            .map(|s| s.to_string())
            .chain([pause.path().display().to_string()])
            .collect();
        let out = std::thread::scope(|s| {
            let w = &w;
            let handle =
                s.spawn(move || w.tg(&args.iter().map(String::as_str).collect::<Vec<_>>()));
            let reached = pause.path().join(PAUSE_READ_ONLY.to_string() + ".reached");
            let until = Instant::now() + Duration::from_secs(120);
            while !reached.exists() {
                if handle.is_finished() {
                    panic!(
                        "move {n} ended before its read-only pause: {:?}",
                        handle.join()
                    );
                }
                assert!(
                    Instant::now() < until,
                    "move {n} never reached its read-only pause"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            let release = Release(pause.path().join(PAUSE_READ_ONLY.to_string() + ".resume"));
            let rt = tokio::runtime::Handle::current();
            let on_gateway = |method: &str, body: Option<Value>| {
                tokio::task::block_in_place(|| {
                    rt.block_on(call(&host, method, "acme", "/api/tasks", body))
                })
            };
            for attempt in 0..3 {
                let (status, v) = on_gateway(
                    "POST",
                    Some(serde_json::json!({
                        "project_id": "a1000000-0000-4000-8000-000000000001",
                        "title": format!("written during move {n} #{attempt}"),
                    })),
                );
                assert_eq!(
                    (status, v["error"]["code"].as_str()),
                    (503, Some("tenant_read_only")),
                    "a write during move {n} was not refused: {v}"
                );
            }
            let (status, v) = on_gateway("GET", None);
            assert_eq!(status, 200, "reads go on during the move: {v}");
            drop(release);
            handle.join().unwrap()
        });
        let out = out.ok();
        assert!(out.stdout.contains(&format!("to {key}")), "{}", out.stdout);
        // Everything is there, served from the new placement.
        assert_eq!(titles(&host, "acme").await, expected, "after move to {key}");
        let (pg, schema) = match *key {
            "dedicated:eu" => (&w.eu, "app"),
            "schema:control/tenant_acme" => (&w.control, "tenant_acme"),
            _ => (&w.control, "app"),
        };
        // No write got through, so the new placement holds exactly the rows the old one had.
        let after = rows(pg, schema, &acme);
        assert!(
            after.starts_with(&format!("{}:", expected.len() + 1)),
            "{after}"
        );
        assert_eq!(after, before, "the rows are the same, byte for byte");
        // Writes work again, in the new placement.
        let (status, v) = call(
            &host,
            "POST",
            "acme",
            "/api/tasks",
            Some(serde_json::json!({"project_id": "a1000000-0000-4000-8000-000000000001", "title": format!("after move {n}")})),
        )
        .await;
        assert_eq!(status, 201, "{v}");
        expected.push(format!("after move {n}"));
        expected.sort();
        before = rows(pg, schema, &acme);
        // The old placement holds nothing of acme's (an emptied tenant schema is dropped); globex was
        // never touched.
        if old.1 != "tenant_acme" {
            assert_eq!(
                rows(old.0, old.1, &acme),
                "0:",
                "old placement after move {n}"
            );
        }
        old = (pg, schema);
        assert_eq!(rows(&w.control, "app", &globex), globex_before);
        assert_eq!(
            titles(&host, "globex").await,
            vec!["globex task".to_string()]
        );
    }
    assert_eq!(
        w.control_sql("SELECT count(*) FROM pg_namespace WHERE nspname = 'tenant_acme'"),
        "0",
        "the emptied tenant schema is dropped"
    );
    assert_eq!(
        w.control_sql("SELECT count(*) FROM tenantgate.audit_log WHERE action = 'tenant.moved'"),
        "3"
    );
    let show = w.tg(&["tenant", "show", "acme"]).ok().stdout;
    assert!(
        show.contains(&format!("rows:      tasks {}", expected.len())),
        "{show}"
    );

    // Failed moves: the old placement stays authoritative, writable, and intact.
    let routing = || {
        w.control_sql(&format!("SELECT placement || ':' || read_only FROM tenantgate.tenant_placements WHERE tenant_id = '{acme}'"))
    };
    // (1) the destination's tables differ from the source's
    dataplane::apply(&w.control, "0003_tenant_data.sql", "tenant_odd");
    w.control_sql("ALTER TABLE tenant_odd.tasks ADD COLUMN extra integer");
    let odd = w.tg(&[
        "tenant",
        "move",
        "acme",
        "--placement",
        "schema",
        "--schema",
        "tenant_odd",
        "--settle-secs",
        "0",
    ]);
    assert_eq!(odd.code, 1);
    assert!(odd.stderr.contains("differs"), "{}", odd.stderr);
    // (2) the dedicated database is unreachable
    let closed = format!(
        "eu=postgres://postgres@127.0.0.1:{}/postgres",
        tenantgate_tests::free_port()
    );
    let down = w.tg_env(
        &[("TENANTGATE_TARGETS", &closed)],
        &[
            "tenant",
            "move",
            "acme",
            "--placement",
            "dedicated",
            "--database",
            "eu",
            "--settle-secs",
            "0",
        ],
    );
    assert_eq!(down.code, 1);
    assert!(down.stderr.contains("database eu"), "{}", down.stderr);
    assert_eq!(routing(), "shared:false");
    assert_eq!(rows(&w.control, "app", &acme), before);
    assert_eq!(titles(&host, "acme").await, expected);
    assert_eq!(rows(&w.control, "tenant_odd", &acme), "0:");
    // Moving to where it already is, or a deleted tenant, is refused.
    let same = w.tg(&[
        "tenant",
        "move",
        "acme",
        "--placement",
        "shared",
        "--settle-secs",
        "0",
    ]);
    assert!(same.stderr.contains("already in shared"), "{}", same.stderr);
    host.shutdown().await;
}
