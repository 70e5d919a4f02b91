//! The world every backend test runs in: two Postgres servers, four tenants (one per
//! placement, two sharing the shared database), the `tasks` component and the hostile
//! fixture served by the host, and contexts signed with the test key.

use serde_json::{json, Value};
use tenantgate_host::engine::Limits;
use tenantgate_host::outbound_pg::{PgReset, StatementFilter};
use tenantgate_tests::dataplane;
use tenantgate_tests::fixtures::component;
use tenantgate_tests::host::{client, AppBuilder, TestHost};
use tenantgate_tests::postgres::PgCluster;

pub const KEY: &[u8] = b"backend-test-key-of-32-bytes-ok!";

/// A tenant of the world and the rows seeded for it.
#[derive(Clone, Debug)]
pub struct Tenant {
    pub slug: &'static str,
    pub id: &'static str,
    pub plc: &'static str,
    pub db: Option<&'static str>,
    pub sch: Option<&'static str>,
    pub project: &'static str,
    pub tasks: [&'static str; 3],
}

pub const ACME: Tenant = Tenant {
    slug: "acme",
    id: "a0000000-0000-4000-8000-000000000001",
    plc: "shared",
    db: None,
    sch: None,
    project: "a1000000-0000-4000-8000-000000000001",
    tasks: [
        "a2000000-0000-4000-8000-000000000001",
        "a2000000-0000-4000-8000-000000000002",
        "a2000000-0000-4000-8000-000000000003",
    ],
};
pub const GLOBEX: Tenant = Tenant {
    slug: "globex",
    id: "b0000000-0000-4000-8000-000000000002",
    plc: "shared",
    db: None,
    sch: None,
    project: "b1000000-0000-4000-8000-000000000001",
    tasks: [
        "b2000000-0000-4000-8000-000000000001",
        "b2000000-0000-4000-8000-000000000002",
        "b2000000-0000-4000-8000-000000000003",
    ],
};
pub const GAMMA: Tenant = Tenant {
    slug: "gamma",
    id: "c0000000-0000-4000-8000-000000000003",
    plc: "schema",
    db: None,
    sch: Some("tenant_gamma"),
    project: "c1000000-0000-4000-8000-000000000001",
    tasks: [
        "c2000000-0000-4000-8000-000000000001",
        "c2000000-0000-4000-8000-000000000002",
        "c2000000-0000-4000-8000-000000000003",
    ],
};
pub const DELTA: Tenant = Tenant {
    slug: "delta",
    id: "d0000000-0000-4000-8000-000000000004",
    plc: "dedicated",
    db: Some("delta"),
    sch: None,
    project: "d1000000-0000-4000-8000-000000000001",
    tasks: [
        "d2000000-0000-4000-8000-000000000001",
        "d2000000-0000-4000-8000-000000000002",
        "d2000000-0000-4000-8000-000000000003",
    ],
};

pub struct World {
    /// Control plane, the shared placement and gamma's schema.
    pub main: PgCluster,
    /// delta's dedicated database.
    pub dedicated: PgCluster,
    pub host: TestHost,
}

/// Signs `claims` as the gateway does, under the world's key id `k1`.
pub fn sign_claims(claims: &Value, key: &[u8]) -> String {
    dataplane::sign_context("k1", key, claims)
}

pub use dataplane::unix_now as now;

/// The claims the gateway would sign for `t` with `perms`, placed as `placed` says.
pub fn claims(t: &Tenant, placed: &Tenant, perms: &[&str]) -> Value {
    json!({
        "tid": t.id, "slug": t.slug, "plc": placed.plc, "db": placed.db, "sch": placed.sch,
        "uid": null, "roles": ["member"], "perms": perms, "rid": format!("req-{}", t.slug),
        "exp": now() + 30,
    })
}

/// A valid context for `t` in its own placement with read and write.
pub fn ctx(t: &Tenant) -> String {
    sign_claims(&claims(t, t, &["tasks.read", "tasks.write"]), KEY)
}

/// Where `t`'s rows live, for superuser checks: (cluster, qualified tasks table prefix).
impl World {
    pub fn schema_of(&self, t: &Tenant) -> (&PgCluster, &'static str) {
        match t.plc {
            "dedicated" => (&self.dedicated, "app"),
            "schema" => (&self.main, t.sch.unwrap()),
            _ => (&self.main, "app"),
        }
    }

    /// A checksum of `t`'s rows in `table`, read as the superuser (bypassing RLS).
    pub fn checksum(&self, t: &Tenant, table: &str) -> String {
        let (pg, schema) = self.schema_of(t);
        pg.psql(
            "postgres",
            &format!(
                "SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, ',' ORDER BY x.id)), '') \
                 FROM {schema}.{table} x WHERE tenant_id = '{}'",
                t.id
            ),
        )
    }

    /// The app-role connection string of the database holding `t`.
    pub fn app_url(&self, t: &Tenant) -> String {
        self.schema_of(t).0.url_as("tenantgate_app", "postgres")
    }

    pub fn targets(&self) -> String {
        format!(
            "delta={}",
            self.dedicated.url_as("tenantgate_app", "postgres")
        )
    }

    /// A request to the tasks API with `context` (None: no header).
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        context: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = client().request(method.parse().unwrap(), self.host.url(path));
        if let Some(c) = context {
            req = req.header("x-tenant-context", c);
        }
        if let Some(b) = body {
            req = req.body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Runs `statements` in the hostile component (`via` = "raw" | "library").
    pub async fn hostile(
        &self,
        via: &str,
        address: &str,
        context: Option<&str>,
        statements: &[String],
    ) -> (u16, Value) {
        let body = json!({ "address": address, "targets": self.targets(), "via": via, "statements": statements });
        let mut req = client()
            .post(self.host.url("/hostile"))
            .body(body.to_string());
        if let Some(c) = context {
            req = req.header("x-tenant-context", c);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

fn seed(pg: &PgCluster, schema: &str, t: &Tenant) {
    let tasks: Vec<String> = t
        .tasks
        .iter()
        .enumerate()
        .map(|(i, id)| {
            format!(
                "('{}', '{id}', '{}', '{} task {i}', now() + interval '{i} second')",
                t.id, t.project, t.slug
            )
        })
        .collect();
    pg.psql(
        "postgres",
        &format!(
            "INSERT INTO {schema}.projects (tenant_id, id, name) VALUES ('{}', '{}', '{} project');
             INSERT INTO {schema}.tasks (tenant_id, id, project_id, title, created_at) VALUES {};",
            t.id,
            t.project,
            t.slug,
            tasks.join(", ")
        ),
    );
}

impl World {
    /// The world with the host's default Postgres statement filter (backend statements only).
    pub async fn start() -> World {
        World::start_with(StatementFilter::Backend).await
    }

    /// The world with the host sending components' statements as `filter` says
    /// ([`StatementFilter::Off`]: every statement, as Spin does).
    pub async fn start_with(filter: StatementFilter) -> World {
        World::start_full(filter, PgReset::Host).await
    }

    /// The world on a host that behaves as Spin does: every statement sent, and pooled
    /// connections recycled as Spin's pool recycles them (nothing rolled back).
    pub async fn start_as_spin() -> World {
        World::start_full(StatementFilter::Off, PgReset::Spin).await
    }

    async fn start_full(filter: StatementFilter, reset: PgReset) -> World {
        let main = PgCluster::start();
        let dedicated = PgCluster::start();
        dataplane::control_plane(&main, &["tenant_gamma"]);
        for file in dataplane::files_of_scope("database") {
            dataplane::apply(&dedicated, &file, "");
        }
        for file in dataplane::files_of_scope("tenant") {
            dataplane::apply(&dedicated, &file, "app");
        }
        for pg in [&main, &dedicated] {
            dataplane::add_context_key(pg, "k1", KEY);
        }
        for t in [&ACME, &GLOBEX, &GAMMA, &DELTA] {
            main.psql(
                "postgres",
                &format!(
                    "INSERT INTO tenantgate.tenants (id, slug, name) VALUES ('{}', '{}', '{}')",
                    t.id, t.slug, t.slug
                ),
            );
        }
        seed(&main, "app", &ACME);
        seed(&main, "app", &GLOBEX);
        seed(&main, "tenant_gamma", &GAMMA);
        seed(&dedicated, "app", &DELTA);

        let hosts = format!(
            r#"["postgres://127.0.0.1:{}", "postgres://127.0.0.1:{}"]"#,
            main.port(),
            dedicated.port()
        );
        let manifest = format!(
            r#"
spin_manifest_version = 2
[application]
name = "backends"
[variables]
database_url = {{ required = true }}
database_targets = {{ default = "" }}

[[trigger.http]]
route = "/api/..."
component = "tasks"

[[trigger.http]]
route = "/hostile"
component = "hostile"

[component.tasks]
source = "{tasks}"
allowed_outbound_hosts = {hosts}
[component.tasks.variables]
database_url = "{{{{ database_url }}}}"
database_targets = "{{{{ database_targets }}}}"

[component.hostile]
source = "{{hostile}}"
allowed_outbound_hosts = {hosts}
"#,
            tasks = component("tasks").display(),
        );
        let host = AppBuilder::new(&manifest)
            .env(
                "SPIN_VARIABLE_DATABASE_URL",
                &main.url_as("tenantgate_app", "postgres"),
            )
            .env(
                "SPIN_VARIABLE_DATABASE_TARGETS",
                &format!("delta={}", dedicated.url_as("tenantgate_app", "postgres")),
            )
            // One pooled connection per database: the request after a hostile one gets
            // the very connection it used.
            .limits(Limits {
                pg_pool_size: 1,
                pg_statements: filter,
                pg_reset: reset,
                ..Limits::default()
            })
            .start()
            .await;
        World {
            main,
            dedicated,
            host,
        }
    }
}
