//! The app under test: the real `spin.toml`, two demo-like tenants and two that are not
//! served, on a throwaway Postgres.

use std::time::Duration;

use serde_json::Value;
use tenantgate_tests::dataplane;
use tenantgate_tests::fixtures::{component, target_dir};
use tenantgate_tests::host::{client, AppBuilder, TestHost};
use tenantgate_tests::postgres::PgCluster;
use tenantgate_tests::workspace_root;

pub const KEY: &[u8] = b"gateway-test-key-32-bytes-long!!";
pub const ACME: &str = "a0000000-0000-4000-8000-00000000000a";
pub const GLOBEX: &str = "b0000000-0000-4000-8000-00000000000b";
/// The plan the test tenants are on: no limits, so tests that send many requests from one
/// address are not rate limited unless they set limits themselves.
pub const TEST_PLAN: &str = "test-unlimited";

pub struct App {
    pub pg: PgCluster,
    pub host: TestHost,
}

/// The body cap the tests configure (small, to test 413 cheaply).
pub const MAX_BODY: usize = 4096;

impl App {
    pub async fn start() -> App {
        App::start_with(&[]).await
    }

    /// Starts the app with extra `SPIN_VARIABLE_*` settings.
    pub async fn start_with(settings: &[(&str, &str)]) -> App {
        let pg = PgCluster::start();
        dataplane::control_plane(&pg, &["tenant_globex"]);
        dataplane::add_context_key(&pg, "k1", KEY);
        pg.psql(
            "postgres",
            &format!(
                "INSERT INTO tenantgate.plans (id, name, limits) VALUES ('{TEST_PLAN}', 'Tests (no limits)', '{{}}');
                 INSERT INTO tenantgate.tenants (id, slug, name, plan) VALUES ('{ACME}', 'acme', 'Acme', '{TEST_PLAN}'), ('{GLOBEX}', 'globex', 'Globex', '{TEST_PLAN}');
                 INSERT INTO tenantgate.tenants (slug, name, status, suspended_at, plan) VALUES ('sleepy', 'Sleepy', 'suspended', now(), '{TEST_PLAN}');
                 INSERT INTO tenantgate.tenants (slug, name, status, deleted_at, purge_after, plan)
                   VALUES ('gone', 'Gone', 'deleted', now(), now() + interval '30 days', '{TEST_PLAN}');
                 INSERT INTO tenantgate.tenant_placements (tenant_id, placement, schema_name)
                   SELECT id, 'shared', NULL FROM tenantgate.tenants WHERE id <> '{GLOBEX}'
                   UNION ALL SELECT '{GLOBEX}', 'schema', 'tenant_globex';
                 INSERT INTO tenantgate.tenant_domains (tenant_id, domain, verification_token, verified_at)
                   VALUES ('{ACME}', 'portal.acme.test', 'token-token-token-1', now()),
                          ('{GLOBEX}', 'unverified.globex.test', 'token-token-token-2', NULL);
                 INSERT INTO app.projects (tenant_id, id, name) VALUES ('{ACME}', 'a1000000-0000-4000-8000-000000000001', 'Acme launch');
                 INSERT INTO app.tasks (tenant_id, project_id, title, created_at) VALUES
                   ('{ACME}', 'a1000000-0000-4000-8000-000000000001', 'acme: book venue', now()),
                   ('{ACME}', 'a1000000-0000-4000-8000-000000000001', 'acme: print flyers', now() + interval '1 second');
                 INSERT INTO tenant_globex.projects (tenant_id, id, name) VALUES ('{GLOBEX}', 'b1000000-0000-4000-8000-000000000001', 'Globex plan');
                 INSERT INTO tenant_globex.tasks (tenant_id, project_id, title) VALUES
                   ('{GLOBEX}', 'b1000000-0000-4000-8000-000000000001', 'globex: hire engineers');"
            ),
        );
        let host = App::host(&pg, settings).await;
        App { pg, host }
    }

    /// Another gateway host on the same database (instances sharing a Redis, ...).
    pub async fn another_host(&self, settings: &[(&str, &str)]) -> TestHost {
        App::host(&self.pg, settings).await
    }

    async fn host(pg: &PgCluster, settings: &[(&str, &str)]) -> TestHost {
        // The real manifest, with its component paths made absolute.
        component("gateway");
        let wasm_dir = target_dir().join("wasm32-wasip2/release/");
        let manifest = std::fs::read_to_string(workspace_root().join("spin.toml"))
            .unwrap()
            .replace(
                "target/wasm32-wasip2/release/",
                &wasm_dir.display().to_string(),
            );
        let mut builder = AppBuilder::new(&manifest);
        for (k, v) in settings {
            builder = match *k {
                // Not a variable: the port to serve on (browser tests).
                "TEST_LISTEN_PORT" => builder.port(v.parse().expect("a port")),
                _ => builder.env(k, v),
            };
        }
        builder = builder
            .runtime_config("[key_value_store.default]\ntype = \"spin\"\n")
            .env(
                "SPIN_VARIABLE_DATABASE_URL",
                &pg.url_as("tenantgate_app", "postgres"),
            )
            .env(
                "SPIN_VARIABLE_DIRECTORY_DATABASE_URL",
                &pg.url_as("tenantgate_directory", "postgres"),
            )
            .env(
                "SPIN_VARIABLE_DATABASE_HOST",
                &format!("127.0.0.1:{}", pg.port()),
            )
            .env(
                "SPIN_VARIABLE_DEDICATED_DATABASE_HOST",
                &format!("127.0.0.1:{}", pg.port()),
            )
            .env("SPIN_VARIABLE_CONTEXT_KEY", &dataplane::hex(KEY))
            .env("SPIN_VARIABLE_MAX_BODY_BYTES", &MAX_BODY.to_string())
            .env("SPIN_VARIABLE_MAX_HEADER_BYTES", "8192");
        // Defaults the caller's settings may replace.
        if !settings
            .iter()
            .any(|(k, _)| *k == "SPIN_VARIABLE_ANONYMOUS_PERMISSIONS")
        {
            builder = builder.env("SPIN_VARIABLE_ANONYMOUS_PERMISSIONS", "tasks.read");
        }
        builder.start().await
    }

    /// `GET path` as `host` (the `Host` header), with extra headers.
    pub async fn get(&self, host: &str, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
        self.request("GET", host, path, headers, None).await
    }

    pub async fn request(
        &self,
        method: &str,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> (u16, Value) {
        let mut req = client()
            .request(method.parse().unwrap(), self.host.url(path))
            .header("host", host);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Polls `GET /api/tasks` on `host` until it answers `status` (true) or `within` passes.
    pub async fn becomes(&self, host: &str, status: u16, within: Duration) -> bool {
        let until = std::time::Instant::now() + within;
        while std::time::Instant::now() < until {
            if self.get(host, "/api/tasks", &[]).await.0 == status {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        false
    }
}

/// The task titles of a list response.
pub fn titles(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a task list: {v}"))
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_owned())
        .collect()
}

/// The error code of a refusal.
pub fn code(v: &Value) -> String {
    v["error"]["code"]
        .as_str()
        .unwrap_or("<no error code>")
        .to_owned()
}
