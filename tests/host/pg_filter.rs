//! The host's Postgres statement filter through a real guest: on by default, it refuses what a
//! backend does not need (DDL, role and session statements, EXPLAIN) before it reaches
//! Postgres, and lets queries, data changes and transaction control through; off, as on Spin,
//! the same statements run.

use serde_json::{json, Value};
use tenantgate_host::outbound_pg::StatementFilter;
use tenantgate_tests::host::AppBuilder;
use tenantgate_tests::postgres::PgCluster;

use crate::postgres::{app, run};

fn op(kind: &str, sql: &str) -> Value {
    json!({ "kind": kind, "sql": sql, "params": [] })
}

fn ops() -> Value {
    json!([
        op("execute", "CREATE TABLE made_here (x int)"),
        op("execute", "ALTER ROLE CURRENT_USER SET work_mem = '64kB'"),
        op("query", "EXPLAIN SELECT 1"),
        op("execute", "SET statement_timeout = '1ms'"),
        op("query", "SELECT 1::int4 AS one"),
        op("execute", "BEGIN READ ONLY"),
        op("execute", "COMMIT"),
    ])
}

#[tokio::test]
async fn the_statement_filter_is_on_by_default_and_off_runs_everything() {
    let pg = PgCluster::start();
    let url = pg.url("postgres");
    let settings = "SELECT (SELECT count(*) FROM pg_db_role_setting) || '/' || (to_regclass('made_here') IS NOT NULL)";
    let host = AppBuilder::new(&app(pg.port())).start().await;
    let out = run(&host, "/db", &url, ops()).await;
    let r = &out["results"];
    for (i, kind) in [
        (0, "CREATE TABLE"),
        (1, "ALTER ROLE"),
        (2, "EXPLAIN"),
        (3, "SET"),
    ] {
        let e = r[i]["error"].to_string();
        assert!(
            e.contains(&format!(
                "statement refused by the host: {kind} is not allowed"
            )),
            "{i}: {out}"
        );
    }
    assert_eq!(r[4]["rows"][0][0]["v"], json!(1), "control: a query: {out}");
    assert!(
        r[5].get("error").is_none() && r[6].get("error").is_none(),
        "{out}"
    );
    assert_eq!(
        pg.psql("postgres", settings),
        "0/false",
        "nothing reached Postgres"
    );
    host.shutdown().await;

    // Off, as Spin: the same statements run.
    let host = AppBuilder::new(&app(pg.port()))
        .pg_statements(StatementFilter::Off)
        .start()
        .await;
    let out = run(&host, "/db", &url, ops()).await;
    let r = &out["results"];
    for i in [0, 1, 3] {
        assert!(r[i].get("error").is_none(), "{i}: {out}");
    }
    assert_eq!(pg.psql("postgres", settings), "1/true", "{out}");
}
