//! RLS with the verified tenant context vs an explicit `WHERE tenant_id = $1`, side
//! by side in one run (issue 3; issue 12 item 5 added the v1 and classic rows).
//!
//! Starts its own cluster, applies the migrations as `migrations/README.md` says,
//! loads 10,000 tenants, 20,000 projects and 1,000,000 tasks (generate_series, as the
//! superuser), ANALYZEs, then measures on loopback with tokio-postgres, interleaved, for
//! random tenants, four paths over the same table (same indexes, same shared buffers, each on
//! its own connection, prepared statements):
//!
//! - `v2`: the application role `tenantgate_app`, the context (v2, `tenantgate.context_v2`)
//!   bound in the transaction with `set_config('tenantgate.context', $1, true)`, no tenant
//!   filter in the query (the policy adds it);
//! - `v1` (the verification before issue 12 item 5, for comparison in the same run): a role
//!   whose policy on the same table verifies a v1 token with 0001's plpgsql
//!   `current_context()` (base64, JSON, pgcrypto), copied by this bench under another name;
//! - `classic`: a role whose policy reads a plain, forgeable setting,
//!   `tenant_id = (SELECT current_setting('tenantgate.tenant', true)::uuid)`, bound the same
//!   way: the usual RLS recipe, the reference for what RLS costs without verification;
//! - `explicit`: a `BYPASSRLS` role with `SELECT` on the same tables, the same query with
//!   `WHERE tenant_id = $1`, no context.
//!
//! Each iteration picks a random tenant and runs every measurement for every path, rotating
//! which path goes first, so machine noise lands on all of them. What is timed:
//!
//! - `statement`: the query alone (prepared; its round trip), inside a transaction
//!   already begun and, for the RLS paths, already bound;
//! - `request`: the whole request transaction: `BEGIN`, bind and query pipelined in
//!   one round trip, `COMMIT` (for `explicit`: `BEGIN`, query, `COMMIT`);
//! - `verify/statement`: the tenant id as each path's policy computes it (`SELECT
//!   tenantgate.current_tenant_id()`, the v1 function, the setting) vs `SELECT $1::uuid`.
//!
//! Then prints `EXPLAIN (ANALYZE, BUFFERS)` of each query on the warm connections.
//!
//! Run: `scripts/bench-rls.sh` or `cargo bench -p tenantgate-tests --bench rls`
//! (`RLS_BENCH_ITERS`, default 5000 measured iterations after 500 warm-up ones).

use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use tenantgate_tests::dataplane::{sign_context, unix_now};
use tenantgate_tests::postgres::PgCluster;
use tokio_postgres::{Client, NoTls, Statement};
use uuid::Uuid;

const KEY: &[u8] = b"bench-key-bench-key-bench-key-32";
const TENANTS: u32 = 10_000;
const PROJECTS_PER_TENANT: u32 = 2;
const TASKS_PER_PROJECT: u32 = 50;
const EXPLICIT_ROLE: &str = "tenantgate_bench_explicit";
const V1_ROLE: &str = "tenantgate_bench_v1";
const CLASSIC_ROLE: &str = "tenantgate_bench_classic";

const LIST_RLS: &str = "SELECT id, project_id, title, done, created_at FROM app.tasks \
     ORDER BY created_at DESC, id DESC LIMIT 50";
const LIST_EXPLICIT: &str = "SELECT id, project_id, title, done, created_at FROM app.tasks \
     WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT 50";
const GET_RLS: &str = "SELECT id, project_id, title, description, done, created_at, updated_at \
     FROM app.tasks WHERE id = $1";
const GET_EXPLICIT: &str =
    "SELECT id, project_id, title, description, done, created_at, updated_at \
     FROM app.tasks WHERE tenant_id = $1 AND id = $2";

/// The four paths, in the order of the table's columns.
#[derive(Clone, Copy, PartialEq)]
enum Path {
    Explicit,
    Classic,
    V1,
    V2,
}

const PATHS: [Path; 4] = [Path::Explicit, Path::Classic, Path::V1, Path::V2];

impl Path {
    fn verify_sql(self) -> &'static str {
        match self {
            Path::Explicit => "SELECT $1::uuid",
            Path::Classic => "SELECT current_setting('tenantgate.tenant', true)::uuid",
            Path::V1 => "SELECT (tenantgate_private.bench_v1_context() ->> 'tid')::uuid",
            Path::V2 => "SELECT tenantgate.current_tenant_id()",
        }
    }

    fn bind_sql(self) -> Option<&'static str> {
        match self {
            Path::Explicit => None,
            Path::Classic => Some("SELECT set_config('tenantgate.tenant', $1, true)"),
            Path::V1 | Path::V2 => Some("SELECT set_config('tenantgate.context', $1, true)"),
        }
    }
}

/// 0001's v1 `current_context()`, renamed, so the `v1` path verifies exactly as before.
fn v1_function() -> String {
    let src = std::fs::read_to_string(
        tenantgate_tests::workspace_root().join("migrations/0001_roles_and_keys.sql"),
    )
    .unwrap();
    let start = src
        .find("CREATE OR REPLACE FUNCTION tenantgate.current_context()")
        .expect("0001 defines current_context()");
    let end = start
        + src[start..]
            .find("$fn$;")
            .expect("its body ends with $fn$;")
        + 5;
    src[start..end].replace(
        "tenantgate.current_context()",
        "tenantgate_private.bench_v1_context()",
    )
}

fn load_sql() -> String {
    format!(
        "INSERT INTO tenantgate_private.context_keys (kid, key) VALUES ('bench', '\\x{key}');
         INSERT INTO tenantgate.tenants (id, slug, name)
         SELECT gen_random_uuid(), 'bench-' || g, 'Bench tenant ' || g FROM generate_series(1, {TENANTS}) AS g;
         INSERT INTO app.projects (tenant_id, id, name, created_at)
         SELECT t.id, gen_random_uuid(), 'project ' || p, now() - interval '400 days' + p * interval '1 day'
           FROM tenantgate.tenants AS t, generate_series(1, {PROJECTS_PER_TENANT}) AS p;
         -- Inserted in created_at order across tenants, as a live table fills: a tenant's
         -- tasks are spread over the heap, not clustered.
         INSERT INTO app.tasks (tenant_id, id, project_id, title, description, done, created_at)
         SELECT s.tenant_id, gen_random_uuid(), s.project_id, 'task ' || s.g, 'description of task ' || s.g,
                s.g % 3 = 0, s.created_at
           FROM (SELECT p.tenant_id, p.id AS project_id, g, now() - random() * interval '365 days' AS created_at
                   FROM app.projects AS p, generate_series(1, {TASKS_PER_PROJECT}) AS g) AS s
          ORDER BY s.created_at;
         CREATE ROLE {EXPLICIT_ROLE} LOGIN NOSUPERUSER BYPASSRLS;
         CREATE ROLE {V1_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS;
         CREATE ROLE {CLASSIC_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS;
         -- 0006 revoked CONNECT from PUBLIC.
         GRANT CONNECT ON DATABASE postgres TO {EXPLICIT_ROLE}, {V1_ROLE}, {CLASSIC_ROLE};
         GRANT USAGE ON SCHEMA app, tenantgate TO {EXPLICIT_ROLE}, {V1_ROLE}, {CLASSIC_ROLE};
         GRANT SELECT ON app.projects, app.tasks TO {EXPLICIT_ROLE}, {V1_ROLE}, {CLASSIC_ROLE};
         BEGIN;
         SET LOCAL search_path = pg_catalog, pg_temp;
         SET LOCAL ROLE tenantgate_owner;
         {v1}
         GRANT USAGE ON SCHEMA tenantgate_private TO {V1_ROLE};
         GRANT EXECUTE ON FUNCTION tenantgate_private.bench_v1_context() TO {V1_ROLE};
         CREATE POLICY bench_v1 ON app.tasks FOR SELECT TO {V1_ROLE}
             USING (tenant_id = (SELECT (tenantgate_private.bench_v1_context() ->> 'tid')::uuid));
         CREATE POLICY bench_classic ON app.tasks FOR SELECT TO {CLASSIC_ROLE}
             USING (tenant_id = (SELECT current_setting('tenantgate.tenant', true)::uuid));
         COMMIT;",
        key = hex(KEY),
        v1 = v1_function(),
    )
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// The claims the gateway signs, for tenant `tid`, valid for an hour.
fn claims(tid: &Uuid) -> serde_json::Value {
    serde_json::json!({
        "tid": tid.to_string(), "slug": "bench", "plc": "shared", "uid": null,
        "roles": ["admin"], "perms": ["tasks.read", "tasks.write"], "rid": "bench-request",
        "exp": unix_now() + 3600,
    })
}

/// A v1 token (`v1.<kid>.<base64url JSON>.<base64url HMAC>`), as the gateway signed before.
fn v1_token(tid: &Uuid) -> String {
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let head = format!("v1.bench.{}", b64(claims(tid).to_string().as_bytes()));
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(KEY).unwrap();
    mac.update(head.as_bytes());
    format!("{head}.{}", b64(&mac.finalize().into_bytes()))
}

/// One tenant of the sample: its id, what each path binds, and one of its tasks.
struct Tenant {
    id: Uuid,
    v1: String,
    v2: String,
    task: Uuid,
}

impl Tenant {
    fn bound(&self, path: Path) -> String {
        match path {
            Path::Explicit | Path::Classic => self.id.to_string(),
            Path::V1 => self.v1.clone(),
            Path::V2 => self.v2.clone(),
        }
    }
}

struct Prepared {
    path: Path,
    list: Statement,
    get: Statement,
    verify: Statement,
    bind: Option<Statement>,
}

async fn connect(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(conn);
    client
}

async fn prepare(c: &Client, path: Path) -> Prepared {
    let (list, get) = if path == Path::Explicit {
        (LIST_EXPLICIT, GET_EXPLICIT)
    } else {
        (LIST_RLS, GET_RLS)
    };
    Prepared {
        path,
        list: c.prepare(list).await.unwrap(),
        get: c.prepare(get).await.unwrap(),
        verify: c.prepare(path.verify_sql()).await.unwrap(),
        bind: match path.bind_sql() {
            Some(sql) => Some(c.prepare(sql).await.unwrap()),
            None => None,
        },
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Query {
    List,
    Get,
    Verify,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Statement,
    Request,
}

/// Runs one measurement; returns the timed part and the number of rows.
async fn run(c: &mut Client, p: &Prepared, t: &Tenant, q: Query, mode: Mode) -> (Duration, usize) {
    let stmt = match q {
        Query::List => &p.list,
        Query::Get => &p.get,
        Query::Verify => &p.verify,
    };
    let explicit = p.path == Path::Explicit;
    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = match (explicit, q) {
        (false, Query::Get) => vec![&t.task],
        (false, _) => vec![],
        (true, Query::Get) => vec![&t.id, &t.task],
        (true, _) => vec![&t.id],
    };
    let bound = t.bound(p.path);
    let context: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&bound];
    match mode {
        Mode::Statement => {
            let tx = c.transaction().await.unwrap();
            if let Some(bind) = &p.bind {
                tx.execute(bind, &context).await.unwrap();
            }
            let start = Instant::now();
            let rows = tx.query(stmt, &params).await.unwrap();
            let d = start.elapsed();
            tx.commit().await.unwrap();
            (d, rows.len())
        }
        Mode::Request => {
            let start = Instant::now();
            let tx = c.transaction().await.unwrap();
            let rows = match &p.bind {
                Some(bind) => {
                    let (_, rows) =
                        tokio::try_join!(tx.execute(bind, &context), tx.query(stmt, &params))
                            .unwrap();
                    rows
                }
                None => tx.query(stmt, &params).await.unwrap(),
            };
            tx.commit().await.unwrap();
            (start.elapsed(), rows.len())
        }
    }
}

/// xorshift64*: reproducible tenant picks without another dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

async fn explain(c: &Client, bind: Option<(&str, &str)>, sql: &str) -> String {
    c.batch_execute("BEGIN").await.unwrap();
    if let Some((bind, value)) = bind {
        c.execute(bind, &[&value]).await.unwrap();
    }
    let rows = c
        .query(&format!("EXPLAIN (ANALYZE, BUFFERS) {sql}"), &[])
        .await
        .unwrap();
    c.batch_execute("COMMIT").await.unwrap();
    rows.iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n")
}

fn main() {
    let iters: usize = std::env::var("RLS_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let warmup = 500;

    let pg = PgCluster::start();
    tenantgate_tests::dataplane::control_plane(&pg, &[]);
    let t0 = Instant::now();
    pg.psql("postgres", &load_sql());
    pg.psql("postgres", "VACUUM (ANALYZE)");
    eprintln!(
        "loaded {TENANTS} tenants, {} projects, {} tasks in {:.1} s",
        TENANTS * PROJECTS_PER_TENANT,
        TENANTS * PROJECTS_PER_TENANT * TASKS_PER_PROJECT,
        t0.elapsed().as_secs_f64()
    );
    // One task per tenant, the tenants in random order.
    let sample = pg.psql(
        "postgres",
        "SELECT DISTINCT ON (tenant_id) tenant_id || ' ' || id FROM app.tasks ORDER BY tenant_id, random()",
    );
    let mut tenants: Vec<Tenant> = sample
        .lines()
        .map(|l| {
            let (tid, task) = l.split_once(' ').unwrap();
            let id = Uuid::parse_str(tid).unwrap();
            Tenant {
                v1: v1_token(&id),
                v2: sign_context("bench", KEY, &claims(&id)),
                id,
                task: Uuid::parse_str(task).unwrap(),
            }
        })
        .collect();
    assert_eq!(tenants.len(), TENANTS as usize);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in (1..tenants.len()).rev() {
        tenants.swap(i, (rng.next() % (i as u64 + 1)) as usize);
    }

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut clients = Vec::new();
        let mut prepared = Vec::new();
        for path in PATHS {
            let role = match path {
                Path::Explicit => EXPLICIT_ROLE,
                Path::Classic => CLASSIC_ROLE,
                Path::V1 => V1_ROLE,
                Path::V2 => "tenantgate_app",
            };
            let c = connect(&pg.url_as(role, "postgres")).await;
            prepared.push(prepare(&c, path).await);
            clients.push(c);
        }

        let cases: [(&str, Query, Mode); 5] = [
            ("list/statement", Query::List, Mode::Statement),
            ("list/request", Query::List, Mode::Request),
            ("get/statement", Query::Get, Mode::Statement),
            ("get/request", Query::Get, Mode::Request),
            ("verify/statement", Query::Verify, Mode::Statement),
        ];
        // times[case][path]
        let mut times: Vec<Vec<Vec<Duration>>> =
            vec![vec![Vec::with_capacity(iters); PATHS.len()]; cases.len()];
        for i in 0..warmup + iters {
            let t = &tenants[(rng.next() % tenants.len() as u64) as usize];
            for (k, &(name, q, mode)) in cases.iter().enumerate() {
                for j in 0..PATHS.len() {
                    let p = (i + k + j) % PATHS.len();
                    let (d, n) = run(&mut clients[p], &prepared[p], t, q, mode).await;
                    let want = match q {
                        Query::List => 50,
                        _ => 1,
                    };
                    assert_eq!(n, want, "{name}: rows");
                    if i >= warmup {
                        times[k][p].push(d);
                    }
                }
            }
        }

        println!(
            "### {iters} iterations (after {warmup} warm-up), random tenants of {TENANTS}, µs (p50, p99 in brackets)\n"
        );
        println!(
            "| id | explicit | classic | v1 (before) | v2 | **v2 − explicit** | v2 − classic | v1 − explicit | v2 / explicit |"
        );
        println!("|---|---|---|---|---|---|---|---|---|");
        for (k, &(name, _, _)) in cases.iter().enumerate() {
            let mut p50 = [0.0; 4];
            let mut p99 = [0.0; 4];
            for p in 0..PATHS.len() {
                times[k][p].sort();
                p50[p] = us(percentile(&times[k][p], 0.5));
                p99[p] = us(percentile(&times[k][p], 0.99));
            }
            let [e, c, v1, v2] = p50;
            println!(
                "| `rls/{name}` | {e:.1} [{:.0}] | {c:.1} [{:.0}] | {v1:.1} [{:.0}] | {v2:.1} [{:.0}] | **{:+.1}** | {:+.1} | {:+.1} | {:.3}x |",
                p99[0],
                p99[1],
                p99[2],
                p99[3],
                v2 - e,
                v2 - c,
                v1 - e,
                v2 / e
            );
        }
        println!();
        // Plans after the measurements, so they show the warm, steady state.
        let t = &tenants[0];
        let bind_v2 = Some((Path::V2.bind_sql().unwrap(), t.v2.as_str()));
        let explicit = 0;
        let v2 = 3;
        let plans = [
            ("list, v2 (tenantgate_app)", v2, bind_v2, LIST_RLS.to_owned()),
            (
                "list, explicit",
                explicit,
                None,
                LIST_EXPLICIT.replace("$1", &format!("'{}'", t.id)),
            ),
            (
                "get, v2 (tenantgate_app)",
                v2,
                bind_v2,
                GET_RLS.replace("$1", &format!("'{}'", t.task)),
            ),
            (
                "get, explicit",
                explicit,
                None,
                GET_EXPLICIT
                    .replace("$1", &format!("'{}'", t.id))
                    .replace("$2", &format!("'{}'", t.task)),
            ),
        ];
        for (name, c, bind, sql) in plans {
            println!(
                "### EXPLAIN (ANALYZE, BUFFERS): {name}\n\n```\n{sql}\n\n{}\n```\n",
                explain(&clients[c], bind, &sql).await
            );
        }
    });
}
