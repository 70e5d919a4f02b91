//! The host's prepared statements (`host/src/outbound_pg/cache.rs`): under the default statement
//! filter a statement is prepared once per pooled connection and kept across requests; Postgres
//! re-resolves it for another `search_path` (a schema placement's tenant), and a statement whose
//! result type changed under it is refused once, then forgotten. With the filter off (as Spin)
//! nothing is kept.

use serde_json::{json, Value};
use tenantgate_host::engine::Limits;
use tenantgate_host::outbound_pg::StatementFilter;
use tenantgate_tests::host::AppBuilder;
use tenantgate_tests::postgres::PgCluster;

use crate::postgres::{app, run};

fn op(kind: &str, sql: &str) -> Value {
    json!({ "kind": kind, "sql": sql, "params": [] })
}

/// `SELECT * FROM kept` in a request of its own: its rows' values, or its error.
async fn select_all(host: &tenantgate_tests::host::TestHost, url: &str) -> Value {
    let out = run(host, "/db", url, json!([op("query", "SELECT * FROM kept")])).await;
    let r = &out["results"][0];
    match r.get("error") {
        Some(e) => json!({ "error": e.to_string() }),
        None => json!(r["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["v"].clone())
                .collect::<Vec<_>>())
            .collect::<Vec<_>>()),
    }
}

#[tokio::test]
async fn statements_are_kept_per_connection_and_forgotten_when_their_result_type_changes() {
    let pg = PgCluster::start();
    let url = pg.url("postgres");
    pg.psql(
        "postgres",
        "CREATE TABLE kept (a int4); INSERT INTO kept VALUES (1)",
    );
    for (filter, kept) in [
        (StatementFilter::Backend, true),
        (StatementFilter::Off, false),
    ] {
        pg.psql(
            "postgres",
            "ALTER TABLE kept DROP COLUMN IF EXISTS b; ALTER TABLE kept DROP COLUMN IF EXISTS c",
        );
        let host = AppBuilder::new(&app(pg.port()))
            .limits(Limits {
                pg_pool_size: 1,
                pg_statements: filter,
                ..Limits::default()
            })
            .start()
            .await;
        assert_eq!(select_all(&host, &url).await, json!([[1]]), "{filter}");
        assert_eq!(select_all(&host, &url).await, json!([[1]]), "{filter}");
        // The row type changes between two requests on the one pooled connection.
        pg.psql("postgres", "ALTER TABLE kept ADD COLUMN b int4 DEFAULT 2");
        let after = select_all(&host, &url).await;
        if kept {
            // The statement prepared by the first requests was kept: Postgres refuses it once ...
            assert!(
                after["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("cached plan must not change result type")),
                "{filter}: {after}"
            );
            // ... and the host forgot it: the next request prepares the text again.
            assert_eq!(select_all(&host, &url).await, json!([[1, 2]]), "{filter}");
        } else {
            assert_eq!(after, json!([[1, 2]]), "{filter}: nothing kept");
        }
        pg.psql("postgres", "ALTER TABLE kept ADD COLUMN c int4 DEFAULT 3");
        let again = select_all(&host, &url).await;
        if kept {
            assert!(again.get("error").is_some(), "{filter}: {again}");
        } else {
            assert_eq!(again, json!([[1, 2, 3]]), "{filter}");
        }
    }
}

#[tokio::test]
async fn a_kept_statement_reads_the_schema_of_each_transaction() {
    let pg = PgCluster::start();
    let url = pg.url("postgres");
    pg.psql(
        "postgres",
        "CREATE SCHEMA one; CREATE SCHEMA two; CREATE TABLE one.t (v text); CREATE TABLE two.t (v text); \
         INSERT INTO one.t VALUES ('one'); INSERT INTO two.t VALUES ('two')",
    );
    let host = AppBuilder::new(&app(pg.port()))
        .limits(Limits {
            pg_pool_size: 1,
            ..Limits::default()
        })
        .start()
        .await;
    // The same statement text, one pooled connection, the schema bound per transaction as
    // tenant-db binds a schema placement's: each request reads its own schema's table.
    for schema in ["one", "two", "one", "two", "two", "one"] {
        let out = run(
            &host,
            "/db",
            &url,
            json!([
                op("execute", "ROLLBACK"),
                op("execute", "BEGIN READ ONLY"),
                op(
                    "query",
                    &format!("SELECT set_config('search_path', '{schema}', true)")
                ),
                op("query", "SELECT v FROM t"),
                op("execute", "COMMIT"),
                op("query", "SELECT pg_backend_pid()"),
            ]),
        )
        .await;
        assert_eq!(out["results"][3]["rows"][0][0]["v"], json!(schema), "{out}");
    }
}
