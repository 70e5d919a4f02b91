//! `--spin-compat 4.0`: the host reproduces Spin 4.0.0-4.0.2's zero-row deadlock (Spin
//! #3671) as a clear error, so a component that would hang there fails here. The statement
//! still runs (as on Spin, which hangs after running it); a query with rows, and
//! `execute`, are untouched.

use serde_json::{json, Value};
use tenantgate_host::outbound_pg::StatementFilter;
use tenantgate_tests::host::{AppBuilder, SpinCompat};

use crate::postgres::{app, run};
use tenantgate_tests::postgres::PgCluster;

fn ops() -> Value {
    json!([
        { "kind": "execute", "sql": "CREATE TABLE IF NOT EXISTS seen (n int)", "params": [] },
        { "kind": "query", "sql": "SELECT 1::int4 AS one", "params": [] },
        { "kind": "query", "sql": "SELECT 1::int4 AS one WHERE false", "params": [] },
        { "kind": "query", "sql": "INSERT INTO seen VALUES (7)", "params": [] },
        { "kind": "query", "sql": "SELECT count(*)::int4 FROM seen", "params": [] },
        { "kind": "execute", "sql": "DELETE FROM seen", "params": [] },
    ])
}

#[tokio::test]
async fn a_zero_row_query_is_refused_naming_spin_3671_under_compat_4_0() {
    let pg = PgCluster::start();
    let url = pg.url("postgres");
    let host = AppBuilder::new(&app(pg.port()))
        .pg_statements(StatementFilter::Off)
        .spin_compat(SpinCompat::V4_0)
        .start()
        .await;
    let out = run(&host, "/db", &url, ops()).await;
    let r = &out["results"];
    assert_eq!(
        r[1]["rows"][0][0]["v"],
        json!(1),
        "a query with a row: {out}"
    );
    let refused = r[2]["error"].to_string();
    assert!(
        refused.contains("#3671") && refused.contains("no row"),
        "{out}"
    );
    // A statement with no result set sent as a query is refused too, after it ran.
    assert!(r[3]["error"].to_string().contains("#3671"), "{out}");
    assert_eq!(r[4]["rows"][0][0]["v"], json!(1), "the insert ran: {out}");
    assert!(r[5].get("error").is_none(), "execute is untouched: {out}");
    host.shutdown().await;

    // Control: without the setting (Spin as fixed), the same queries answer empty results.
    let host = AppBuilder::new(&app(pg.port()))
        .pg_statements(StatementFilter::Off)
        .spin_compat(SpinCompat::Latest)
        .start()
        .await;
    let out = run(&host, "/db", &url, ops()).await;
    let r = &out["results"];
    assert_eq!(r[2]["rows"], json!([]), "{out}");
    // Spin names columns from the first row: an empty result has none.
    assert_eq!(r[2]["columns"], json!([]), "{out}");
    assert_eq!(r[3]["rows"], json!([]), "{out}");
}
