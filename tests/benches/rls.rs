//! RLS with the verified tenant context vs an explicit `WHERE tenant_id = $1`, side
//! by side in one run (issue 3, performance part).
//!
//! Starts its own cluster, applies the migrations as `migrations/README.md` says,
//! loads 10,000 tenants, 20,000 projects and 1,000,000 tasks (generate_series, as the
//! superuser), ANALYZEs, then measures on loopback with tokio-postgres, interleaved, for random tenants:
//!
//! - `rls`: the application role `tenantgate_app`, the context bound in the
//!   transaction with `set_config('tenantgate.context', $1, true)`, no tenant filter
//!   in the query (the policy adds it);
//! - `explicit`: the role `tenantgate_bench_explicit` (`BYPASSRLS`, `SELECT` on the
//!   same tables), the same query with `WHERE tenant_id = $1`, no context.
//!
//! Same table, same indexes, same shared buffers, same kind of connection; the only
//! difference is the policy and the context verification. Each iteration picks a
//! random tenant and runs every measurement for both paths, alternating which path
//! goes first, so machine noise lands on both. What is timed:
//!
//! - `statement`: the query alone (prepared; its round trip), inside a transaction
//!   already begun and, for `rls`, already bound;
//! - `request`: the whole request transaction: `BEGIN`, bind and query pipelined in
//!   one round trip, `COMMIT` (for `explicit`: `BEGIN`, query, `COMMIT`);
//! - `request_seq` (`rls` only): the same with the bind as a round trip of its own;
//! - `verify/statement`: `SELECT tenantgate.current_tenant_id()` vs `SELECT $1::uuid`,
//!   the verification's cost per statement.
//!
//! Then prints `EXPLAIN (ANALYZE, BUFFERS)` of each query on the warm connections.
//!
//! Run: `scripts/bench-rls.sh` or `cargo bench -p tenantgate-tests --bench rls`
//! (`RLS_BENCH_ITERS`, default 5000 measured iterations after 500 warm-up ones).

use std::time::{Duration, Instant};

use tenantgate_tests::dataplane::{sign_context, unix_now};
use tenantgate_tests::postgres::PgCluster;
use tokio_postgres::{Client, NoTls, Statement};
use uuid::Uuid;

const KEY: &[u8] = b"bench-key-bench-key-bench-key-32";
const TENANTS: u32 = 10_000;
const PROJECTS_PER_TENANT: u32 = 2;
const TASKS_PER_PROJECT: u32 = 50;
const EXPLICIT_ROLE: &str = "tenantgate_bench_explicit";

const LIST_RLS: &str = "SELECT id, project_id, title, done, created_at FROM app.tasks \
     ORDER BY created_at DESC, id DESC LIMIT 50";
const LIST_EXPLICIT: &str = "SELECT id, project_id, title, done, created_at FROM app.tasks \
     WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT 50";
const GET_RLS: &str = "SELECT id, project_id, title, description, done, created_at, updated_at \
     FROM app.tasks WHERE id = $1";
const GET_EXPLICIT: &str =
    "SELECT id, project_id, title, description, done, created_at, updated_at \
     FROM app.tasks WHERE tenant_id = $1 AND id = $2";
const VERIFY_RLS: &str = "SELECT tenantgate.current_tenant_id()";
const VERIFY_EXPLICIT: &str = "SELECT $1::uuid";
const BIND: &str = "SELECT set_config('tenantgate.context', $1, true)";

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
         GRANT USAGE ON SCHEMA app, tenantgate TO {EXPLICIT_ROLE};
         GRANT SELECT ON app.projects, app.tasks TO {EXPLICIT_ROLE};",
        key = hex(KEY)
    )
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// A context token as the gateway signs it (see `tests/data_plane/main.rs`).
fn token(tid: &Uuid) -> String {
    let exp = unix_now() + 3600;
    let claims = serde_json::json!({
        "tid": tid.to_string(), "slug": "bench", "plc": "shared", "uid": null,
        "roles": ["admin"], "perms": ["tasks.read", "tasks.write"], "rid": "bench-request", "exp": exp,
    });
    sign_context("bench", KEY, &claims)
}

/// One tenant of the sample: its id, a signed context and one of its tasks.
struct Tenant {
    id: Uuid,
    context: String,
    task: Uuid,
}

struct Prepared {
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

async fn prepare(c: &Client, rls: bool) -> Prepared {
    let (list, get, verify) = if rls {
        (LIST_RLS, GET_RLS, VERIFY_RLS)
    } else {
        (LIST_EXPLICIT, GET_EXPLICIT, VERIFY_EXPLICIT)
    };
    Prepared {
        list: c.prepare(list).await.unwrap(),
        get: c.prepare(get).await.unwrap(),
        verify: c.prepare(verify).await.unwrap(),
        bind: if rls {
            Some(c.prepare(BIND).await.unwrap())
        } else {
            None
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
    RequestSeq,
}

/// Runs one measurement; returns the timed part and the number of rows.
async fn run(c: &mut Client, p: &Prepared, t: &Tenant, q: Query, mode: Mode) -> (Duration, usize) {
    let stmt = match q {
        Query::List => &p.list,
        Query::Get => &p.get,
        Query::Verify => &p.verify,
    };
    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = match (&p.bind, q) {
        (Some(_), Query::Get) => vec![&t.task],
        (Some(_), _) => vec![],
        (None, Query::Get) => vec![&t.id, &t.task],
        (None, _) => vec![&t.id],
    };
    let context: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&t.context];
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
        Mode::Request | Mode::RequestSeq => {
            let start = Instant::now();
            let tx = c.transaction().await.unwrap();
            let rows = match (&p.bind, mode) {
                (Some(bind), Mode::Request) => {
                    let (_, rows) =
                        tokio::try_join!(tx.execute(bind, &context), tx.query(stmt, &params))
                            .unwrap();
                    rows
                }
                (Some(bind), _) => {
                    tx.execute(bind, &context).await.unwrap();
                    tx.query(stmt, &params).await.unwrap()
                }
                (None, _) => tx.query(stmt, &params).await.unwrap(),
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

async fn explain(c: &Client, context: Option<&str>, sql: &str) -> String {
    c.batch_execute("BEGIN").await.unwrap();
    if let Some(ctx) = context {
        c.execute(BIND, &[&ctx]).await.unwrap();
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
                context: token(&id),
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
        let mut app = connect(&pg.url_as("tenantgate_app", "postgres")).await;
        let mut explicit = connect(&pg.url_as(EXPLICIT_ROLE, "postgres")).await;
        let pa = prepare(&app, true).await;
        let pe = prepare(&explicit, false).await;

        let cases: [(&str, Query, Mode, bool); 7] = [
            ("list/statement", Query::List, Mode::Statement, true),
            ("list/request", Query::List, Mode::Request, true),
            ("list/request_seq", Query::List, Mode::RequestSeq, false),
            ("get/statement", Query::Get, Mode::Statement, true),
            ("get/request", Query::Get, Mode::Request, true),
            ("get/request_seq", Query::Get, Mode::RequestSeq, false),
            ("verify/statement", Query::Verify, Mode::Statement, true),
        ];
        let mut rls: Vec<Vec<Duration>> = vec![Vec::with_capacity(iters); cases.len()];
        let mut exp: Vec<Vec<Duration>> = vec![Vec::with_capacity(iters); cases.len()];
        for i in 0..warmup + iters {
            let t = &tenants[(rng.next() % tenants.len() as u64) as usize];
            for (k, &(name, q, mode, with_explicit)) in cases.iter().enumerate() {
                let rls_first = (i + k) % 2 == 0;
                for second in [false, true] {
                    let is_rls = rls_first != second;
                    if !is_rls && !with_explicit {
                        continue;
                    }
                    let (d, n) = if is_rls {
                        run(&mut app, &pa, t, q, mode).await
                    } else {
                        run(&mut explicit, &pe, t, q, mode).await
                    };
                    let want = match q {
                        Query::List => 50,
                        _ => 1,
                    };
                    assert_eq!(n, want, "{name}: rows");
                    if i >= warmup {
                        if is_rls { &mut rls[k] } else { &mut exp[k] }.push(d);
                    }
                }
            }
        }

        println!(
            "### {iters} iterations (after {warmup} warm-up), random tenants of {TENANTS}, µs\n"
        );
        println!("| id | rls p50 | explicit p50 | p50 ratio | rls p99 | explicit p99 | p99 ratio |");
        println!("|---|---|---|---|---|---|---|");
        for (k, &(name, _, _, with_explicit)) in cases.iter().enumerate() {
            rls[k].sort();
            exp[k].sort();
            let (r50, r99) = (percentile(&rls[k], 0.5), percentile(&rls[k], 0.99));
            if with_explicit {
                let (e50, e99) = (percentile(&exp[k], 0.5), percentile(&exp[k], 0.99));
                println!(
                    "| `rls/{name}` | {:.1} | {:.1} | **{:.3}x** | {:.1} | {:.1} | {:.3}x |",
                    us(r50),
                    us(e50),
                    us(r50) / us(e50),
                    us(r99),
                    us(e99),
                    us(r99) / us(e99)
                );
            } else {
                // Compared with the explicit path's `request` (it has no bind).
                let e = &exp[k - 1];
                let (e50, e99) = (percentile(e, 0.5), percentile(e, 0.99));
                println!(
                    "| `rls/{name}` (vs explicit request) | {:.1} | {:.1} | {:.3}x | {:.1} | {:.1} | {:.3}x |",
                    us(r50),
                    us(e50),
                    us(r50) / us(e50),
                    us(r99),
                    us(e99),
                    us(r99) / us(e99)
                );
            }
        }
        println!();
        // Plans after the measurements, so they show the warm, steady state.
        let t = &tenants[0];
        let plans = [
            ("list, rls (tenantgate_app)", Some(t.context.as_str()), LIST_RLS.to_owned()),
            (
                "list, explicit",
                None,
                LIST_EXPLICIT.replace("$1", &format!("'{}'", t.id)),
            ),
            (
                "get, rls (tenantgate_app)",
                Some(t.context.as_str()),
                GET_RLS.replace("$1", &format!("'{}'", t.task)),
            ),
            (
                "get, explicit",
                None,
                GET_EXPLICIT
                    .replace("$1", &format!("'{}'", t.id))
                    .replace("$2", &format!("'{}'", t.task)),
            ),
        ];
        for (name, ctx, sql) in plans {
            let c = if ctx.is_some() { &app } else { &explicit };
            println!("### EXPLAIN (ANALYZE, BUFFERS): {name}\n\n```\n{sql}\n\n{}\n```\n", explain(c, ctx, &sql).await);
        }

    });
}
