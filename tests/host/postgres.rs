//! Outbound Postgres against a real server: every type spin-sdk exposes round trips,
//! errors are WIT values, the allow-list is checked on open, pooled connections come
//! back clean. These tests send DDL and session statements as Spin lets a component, so
//! they turn the host's statement filter off; `pg_filter.rs` tests the filter.

use serde_json::{json, Value};
use tenantgate_host::engine::Limits;
use tenantgate_host::outbound_pg::StatementFilter;
use tenantgate_tests::host::{client, AppBuilder, SpinCompat, TestHost};
use tenantgate_tests::postgres::PgCluster;

/// The probe as `db` (allowed to reach `port`) and as `nodb` (allowed nowhere useful).
pub(crate) fn app(port: u16) -> String {
    format!(
        r#"
spin_manifest_version = 2
[application]
name = "pg"

[[trigger.http]]
route = "/db/..."
component = "db"

[[trigger.http]]
route = "/nodb/..."
component = "nodb"

[component.db]
source = "{{probe}}"
allowed_outbound_hosts = ["postgres://127.0.0.1:{port}"]

[component.nodb]
source = "{{probe}}"
allowed_outbound_hosts = ["postgres://127.0.0.1:1"]
"#
    )
}

/// Runs `ops` in the probe under `prefix` against `address`.
pub(crate) async fn run(host: &TestHost, prefix: &str, address: &str, ops: Value) -> Value {
    client()
        .post(host.url(&format!("{prefix}/pg")))
        .body(json!({ "address": address, "ops": ops }).to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn q(sql: &str, params: Value) -> Value {
    json!({ "kind": "query", "sql": sql, "params": params })
}

fn x(sql: &str) -> Value {
    json!({ "kind": "execute", "sql": sql, "params": [] })
}

fn t(t: &str, v: Value) -> Value {
    json!({ "t": t, "v": v })
}

#[tokio::test]
async fn every_type_round_trips() {
    let pg = PgCluster::start();
    let host = AppBuilder::new(&app(pg.port()))
        .pg_statements(StatementFilter::Off)
        .start()
        .await;
    let url = pg.url("postgres");
    let columns = [
        ("b", "bool", t("boolean", json!(true)), None),
        ("i2", "int2", t("int16", json!(-7)), None),
        ("i4", "int4", t("int32", json!(42)), None),
        (
            "i8",
            "int8",
            t("int64", json!(9_000_000_000_000_000i64)),
            None,
        ),
        ("f4", "float4", t("floating32", json!(1.5)), None),
        ("f8", "float8", t("floating64", json!(2.25)), None),
        ("s", "text", t("str", json!("héllo")), None),
        ("vc", "varchar(10)", t("str", json!("var")), None),
        ("bc", "char(3)", t("str", json!("abc")), None),
        ("by", "bytea", t("binary", json!("bytes")), None),
        ("d", "date", t("date", json!([2024, 2, 29])), None),
        (
            "tm",
            "time",
            t("time", json!([13, 14, 15, 123456000])),
            None,
        ),
        (
            "ts",
            "timestamp",
            t("datetime", json!([2024, 2, 29, 13, 14, 15, 5000])),
            None,
        ),
        (
            "u",
            "uuid",
            t("uuid", json!("6f1d9a2c-3b4e-4f5a-8b6c-7d8e9f0a1b2c")),
            None,
        ),
        (
            "j",
            "jsonb",
            t("jsonb", json!({"a": [1, 2], "b": null})),
            None,
        ),
        ("n", "numeric", t("decimal", json!("12345.6789")), None),
        (
            "r4",
            "int4range",
            t("range-int32", json!([[1, "inclusive"], [10, "exclusive"]])),
            None,
        ),
        (
            "r8",
            "int8range",
            t("range-int64", json!([null, [5, "exclusive"]])),
            None,
        ),
        (
            "rn",
            "numrange",
            t(
                "range-decimal",
                json!([["1.5", "inclusive"], ["2.5", "inclusive"]]),
            ),
            None,
        ),
        ("a4", "int4[]", t("array-int32", json!([1, null, 3])), None),
        ("a8", "int8[]", t("array-int64", json!([4])), None),
        (
            "an",
            "numeric[]",
            t("array-decimal", json!(["1.10", null])),
            None,
        ),
        ("at", "text[]", t("array-str", json!(["x", null])), None),
        (
            "iv",
            "interval",
            t("interval", json!([1_000_000, 2, 3])),
            None,
        ),
    ];
    let ddl = columns
        .iter()
        .map(|(n, ty, _, _)| format!("{n} {ty}"))
        .collect::<Vec<_>>()
        .join(", ");
    let names = columns.iter().map(|c| c.0).collect::<Vec<_>>().join(", ");
    let placeholders = (1..=columns.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let params: Vec<Value> = columns.iter().map(|c| c.2.clone()).collect();
    let out = run(
        &host,
        "/db",
        &url,
        json!([
            x(&format!("CREATE TABLE every_type ({ddl})")),
            json!({ "kind": "execute", "sql": format!("INSERT INTO every_type ({names}) VALUES ({placeholders})"), "params": params }),
            q(&format!("SELECT {names} FROM every_type"), json!([])),
            x("INSERT INTO every_type DEFAULT VALUES"),
            q(&format!("SELECT {names} FROM every_type WHERE b IS NULL"), json!([])),
        ]),
    )
    .await;
    let results = out["results"].as_array().unwrap_or_else(|| panic!("{out}"));
    assert_eq!(results[1]["affected"], 1, "{out}");
    let row = &results[2]["rows"][0];
    for (i, (name, _, sent, expect)) in columns.iter().enumerate() {
        assert_eq!(&row[i], expect.as_ref().unwrap_or(sent), "column {name}");
    }
    let types: Vec<&str> = results[2]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c[1].as_str().unwrap())
        .collect();
    assert_eq!(types[0], "DbDataType::Boolean");
    assert_eq!(types[12], "DbDataType::Datetime");
    assert_eq!(types[23], "DbDataType::Interval");
    let nulls = &results[4]["rows"][0];
    assert!(
        nulls
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["t"] == "db-null"),
        "{nulls}"
    );
}

#[tokio::test]
async fn nulls_unsupported_types_and_errors_are_values() {
    let pg = PgCluster::start();
    let host = AppBuilder::new(&app(pg.port()))
        .pg_statements(StatementFilter::Off)
        .start()
        .await;
    let out = run(
        &host,
        "/db",
        &pg.url("postgres"),
        json!([
            q(
                "SELECT $1::int4 IS NULL",
                json!([t("db-null", Value::Null)])
            ),
            q("SELECT '10.0.0.1'::inet AS addr", json!([])),
            q("SELECT * FROM no_such_table", json!([])),
            q("SELECT 1; SELECT 2", json!([])),
            q("SELECT $1::int4", json!([t("str", json!("not a number"))])),
            q("SELECT 1 AS still_usable", json!([])),
        ]),
    )
    .await;
    let r = &out["results"];
    assert_eq!(r[0]["rows"][0][0], t("boolean", json!(true)));
    assert_eq!(r[1]["rows"][0][0]["t"], "unsupported");
    assert_eq!(
        r[1]["columns"][0],
        json!(["addr", "DbDataType::Other(\"inet\")"])
    );
    let missing = r[2]["error"].as_str().unwrap();
    assert!(
        missing.contains("QueryFailed") && missing.contains("42P01"),
        "{missing}"
    );
    assert!(
        r[3]["error"].as_str().unwrap().contains("QueryFailed"),
        "{}",
        r[3]
    );
    assert!(r[4]["error"].is_string(), "{}", r[4]);
    assert_eq!(
        r[5]["rows"][0][0],
        t("int32", json!(1)),
        "errors do not break the connection"
    );
}

#[tokio::test]
async fn statements_without_parameters_run_one_command_each() {
    // `execute` with no parameters takes the one-round-trip path: it must keep the
    // prepared path's rules (one command per call, errors as values, the affected count).
    let pg = PgCluster::start();
    let host = AppBuilder::new(&app(pg.port()))
        .pg_statements(StatementFilter::Off)
        .start()
        .await;
    let out = run(
        &host,
        "/db",
        &pg.url("postgres"),
        json!([
            x("CREATE TABLE made_here (x int)"),
            x("INSERT INTO made_here VALUES (1); DROP TABLE made_here"),
            x("DELETE FROM no_such_table"),
            x("INSERT INTO made_here VALUES (1), (2), (3)"),
            x("UPDATE made_here SET x = x + 1 WHERE x > 1"),
            q(
                "SELECT count(*)::int4, sum(x)::int4 FROM made_here",
                json!([])
            ),
        ]),
    )
    .await;
    let r = &out["results"];
    assert_eq!(r[0]["affected"], 0, "{out}");
    let multi = r[1]["error"].as_str().unwrap_or_default();
    assert!(
        multi.contains("QueryFailed") && multi.contains("42601"),
        "two commands in one call are refused: {}",
        r[1]
    );
    let missing = r[2]["error"].as_str().unwrap_or_default();
    assert!(missing.contains("42P01"), "{}", r[2]);
    assert_eq!(r[3]["affected"], 3, "{out}");
    assert_eq!(r[4]["affected"], 2, "{out}");
    assert_eq!(
        r[5]["rows"][0],
        json!([t("int32", json!(3)), t("int32", json!(8))]),
        "the refused string inserted and dropped nothing: {out}"
    );
}

/// One value of every parameter kind, valid for its own Postgres type.
fn every_kind() -> Vec<(&'static str, Value)> {
    vec![
        ("boolean", t("boolean", json!(true))),
        ("int8", t("int8", json!(65))),
        ("int16", t("int16", json!(7))),
        ("int32", t("int32", json!(7))),
        ("int64", t("int64", json!(7))),
        ("floating32", t("floating32", json!(1.5))),
        ("floating64", t("floating64", json!(1.5))),
        (
            "str",
            t("str", json!("6f1d9a2c-3b4e-4f5a-8b6c-7d8e9f0a1b2c")),
        ),
        ("binary", t("binary", json!("bytes"))),
        ("date", t("date", json!([2024, 2, 29]))),
        ("time", t("time", json!([13, 14, 15, 0]))),
        (
            "datetime",
            t("datetime", json!([2024, 2, 29, 13, 14, 15, 0])),
        ),
        ("timestamp", t("timestamp", json!(1_700_000_000))),
        (
            "uuid",
            t("uuid", json!("6f1d9a2c-3b4e-4f5a-8b6c-7d8e9f0a1b2c")),
        ),
        ("jsonb", t("jsonb", json!({"a": 1}))),
        ("decimal", t("decimal", json!("1.5"))),
        (
            "range-int32",
            t("range-int32", json!([[1, "inclusive"], [9, "exclusive"]])),
        ),
        (
            "range-int64",
            t("range-int64", json!([[1, "inclusive"], [9, "exclusive"]])),
        ),
        (
            "range-decimal",
            t(
                "range-decimal",
                json!([["1.5", "inclusive"], ["2.5", "exclusive"]]),
            ),
        ),
        ("array-int32", t("array-int32", json!([1, null]))),
        ("array-int64", t("array-int64", json!([1, null]))),
        ("array-decimal", t("array-decimal", json!(["1.5", null]))),
        ("array-str", t("array-str", json!(["a", null]))),
        ("interval", t("interval", json!([1_000_000, 2, 3]))),
        ("db-null", t("db-null", Value::Null)),
    ]
}

/// The Postgres types a placeholder can be given, and for each the parameter kinds Spin binds
/// to it: each kind is bound as one Rust type (Spin's `to_sql_parameter`), and tokio-postgres
/// accepts that type for exactly these Postgres types (postgres-types' `accepts`). `db-null`
/// binds to every type.
const SPIN_BINDS: &[(&str, &[&str])] = &[
    ("bool", &["boolean"]),
    ("\"char\"", &["int8"]),
    ("int2", &["int16"]),
    ("int4", &["int32"]),
    ("int8", &["int64"]),
    ("float4", &["floating32"]),
    ("float8", &["floating64"]),
    ("text", &["str"]),
    ("varchar", &["str"]),
    ("char(36)", &["str"]),
    ("name", &["str"]),
    ("citext", &["str"]),
    ("bytea", &["binary"]),
    ("date", &["date"]),
    ("time", &["time"]),
    ("timestamp", &["datetime"]),
    ("timestamptz", &["timestamp"]),
    ("uuid", &["uuid"]),
    ("json", &["jsonb"]),
    ("jsonb", &["jsonb"]),
    ("numeric", &["decimal"]),
    ("int4range", &["range-int32"]),
    ("int8range", &["range-int64"]),
    ("numrange", &["range-decimal"]),
    ("int4[]", &["array-int32"]),
    ("int8[]", &["array-int64"]),
    ("numeric[]", &["array-decimal"]),
    ("text[]", &["array-str"]),
    ("varchar[]", &["array-str"]),
    ("interval", &["interval"]),
    ("inet", &[]),
];

/// Runs every kind against every type, as `query` and as `execute`; returns the cells whose
/// outcome is not Spin's (accepted where Spin refuses the bind, or the other way round).
async fn binding_mismatches(host: &TestHost, url: &str) -> Vec<String> {
    let kinds = every_kind();
    let mut ops = Vec::new();
    let mut cells = Vec::new();
    for (ty, binds) in SPIN_BINDS {
        for (kind, value) in &kinds {
            let spin_binds = *kind == "db-null" || binds.contains(kind);
            ops.push(json!({ "kind": "query", "sql": format!("SELECT $1::{ty} IS NULL AS n"), "params": [value] }));
            ops.push(
                json!({ "kind": "execute", "sql": format!("SELECT $1::{ty}"), "params": [value] }),
            );
            cells.push((*ty, *kind, spin_binds));
        }
    }
    let out = run(host, "/db", url, Value::Array(ops)).await;
    let results = out["results"].as_array().unwrap_or_else(|| panic!("{out}"));
    let mut wrong = Vec::new();
    for (i, (ty, kind, spin_binds)) in cells.into_iter().enumerate() {
        for (how, r) in [("query", &results[2 * i]), ("execute", &results[2 * i + 1])] {
            let accepted = r.get("error").is_none();
            let refused_as_spin = r["error"].as_str().is_some_and(|e| {
                e.starts_with("Error::QueryFailed(QueryError::Text(") && e.contains("WrongType")
            });
            let ok = if spin_binds {
                accepted
            } else {
                refused_as_spin
            };
            if !ok {
                wrong.push(format!(
                    "{how} {kind} as {ty}: Spin {}, host {r}",
                    if spin_binds { "binds" } else { "refuses" }
                ));
            }
        }
    }
    wrong
}

#[tokio::test]
async fn parameter_kinds_bind_only_where_spin_binds_them() {
    // Spin binds a `str` as a Rust `String`, which tokio-postgres refuses for a placeholder
    // Postgres typed `uuid` (every SSO login on Spin failed on `sso_provider($1::uuid)` with a
    // `str`). The host must refuse each such cell too, on both of its paths: statements
    // prepared once and cached (the default statement filter) and prepared per call (the
    // filter off, as Spin).
    let pg = PgCluster::start();
    pg.psql("postgres", "CREATE EXTENSION IF NOT EXISTS citext");
    let url = pg.url("postgres");
    for filter in [StatementFilter::Off, StatementFilter::Backend] {
        let host = AppBuilder::new(&app(pg.port()))
            .pg_statements(filter)
            .spin_compat(SpinCompat::Latest)
            .start()
            .await;
        let wrong = binding_mismatches(&host, &url).await;
        assert!(
            wrong.is_empty(),
            "{filter:?}: {} cells differ from Spin:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
    }
}

#[tokio::test]
async fn parameters_are_never_coerced_and_bad_values_are_spins_error_values() {
    let pg = PgCluster::start();
    let host = AppBuilder::new(&app(pg.port()))
        .pg_statements(StatementFilter::Off)
        .spin_compat(SpinCompat::Latest)
        .start()
        .await;
    let s = |v: &str| t("str", json!(v));
    let u = "6f1d9a2c-3b4e-4f5a-8b6c-7d8e9f0a1b2c";
    let out = run(
        &host,
        "/db",
        &pg.url("postgres"),
        json!([
            x("CREATE TABLE people (id uuid, born date, n int8, at timestamptz)"),
            // The kinds Postgres's own types take, and the casts that let text through.
            json!({ "kind": "execute", "sql": "INSERT INTO people VALUES ($1, $2, $3, $4)",
                    "params": [t("uuid", json!(u)), t("date", json!([2024, 2, 29])),
                               t("int64", json!(7)), t("timestamp", json!(1_700_000_000))] }),
            q("SELECT count(*)::int4 FROM people WHERE id = $1::text::uuid AND born = $2::text::date",
              json!([s(u), s("2024-02-29")])),
            // A string for a uuid, a date or a timestamptz column, and an int4 for an int8 one: refused
            // before anything runs, as on Spin, which binds each as its own Rust type.
            q("SELECT count(*)::int4 FROM people WHERE id = $1", json!([s(u)])),
            q("INSERT INTO people (born) VALUES ($1) RETURNING 1", json!([s("2024-02-29")])),
            json!({ "kind": "execute", "sql": "INSERT INTO people (n) VALUES ($1)", "params": [t("int32", json!(8))] }),
            json!({ "kind": "execute", "sql": "INSERT INTO people (at) VALUES ($1)", "params": [t("datetime", json!([2024, 2, 29, 0, 0, 0, 0]))] }),
            // A value that is not one at all: `bad-parameter` from query, `value-conversion-failed`
            // from execute (Spin's two variants).
            q("SELECT $1::uuid IS NULL", json!([t("uuid", json!("not-a-uuid"))])),
            json!({ "kind": "execute", "sql": "SELECT $1::uuid", "params": [t("uuid", json!("not-a-uuid"))] }),
            q("SELECT $1::numeric IS NULL", json!([t("decimal", json!("1.2.3"))])),
            q("SELECT count(*)::int4 FROM people", json!([])),
        ]),
    )
    .await;
    let r = &out["results"];
    assert_eq!(r[1]["affected"], 1, "{out}");
    assert_eq!(
        r[2]["rows"][0][0],
        t("int32", json!(1)),
        "explicit casts: {out}"
    );
    for i in 3..=6 {
        let e = r[i]["error"].as_str().unwrap_or_default();
        assert!(
            e.starts_with("Error::QueryFailed(QueryError::Text(") && e.contains("WrongType"),
            "op {i} must be refused as Spin refuses it: {}",
            r[i]
        );
    }
    let e = |i: usize| r[i]["error"].as_str().unwrap_or_default().to_owned();
    assert!(e(7).starts_with("Error::BadParameter("), "{}", r[7]);
    assert!(
        e(8).starts_with("Error::ValueConversionFailed("),
        "{}",
        r[8]
    );
    assert!(e(9).starts_with("Error::BadParameter("), "{}", r[9]);
    assert_eq!(
        r[10]["rows"][0][0],
        t("int32", json!(1)),
        "no refused statement inserted anything: {out}"
    );
}

#[tokio::test]
async fn result_columns_read_as_spin_reads_them() {
    let pg = PgCluster::start();
    pg.psql("postgres", "CREATE EXTENSION IF NOT EXISTS citext");
    let host = AppBuilder::new(&app(pg.port()))
        .pg_statements(StatementFilter::Off)
        .spin_compat(SpinCompat::Latest)
        .start()
        .await;
    let out = run(
        &host,
        "/db",
        &pg.url("postgres"),
        json!([
            // Spin reads timestamptz as a zone-less date-time, which tokio-postgres refuses:
            // the whole query fails, even for a NULL; `AT TIME ZONE 'UTC'` and `::text` read.
            q("SELECT now() AS at", json!([])),
            q("SELECT NULL::timestamptz AS at", json!([])),
            q("SELECT timestamptz '2023-11-14 22:13:20+00' AT TIME ZONE 'UTC' AS at", json!([])),
            // Types Spin does not map are `unsupported` (their wire bytes), never converted.
            q("SELECT '{\"a\":1}'::json AS j, 'x'::name AS nm, 'A'::\"char\" AS ch, 'Ab'::citext AS ci",
              json!([])),
            // An empty result names no columns (Spin takes them from the first row).
            q("SELECT 1 AS one WHERE false", json!([])),
            // A result over Spin's 128 MiB buffer is an error, not a truncation.
            q("SELECT repeat('x', 1048576) AS mib FROM generate_series(1, 130)", json!([])),
            q("SELECT 'still usable' AS ok", json!([])),
        ]),
    )
    .await;
    let r = &out["results"];
    for i in [0, 1] {
        let e = r[i]["error"].as_str().unwrap_or_default();
        assert!(
            e.starts_with("Error::QueryFailed(QueryError::Text(")
                && e.contains("WrongType")
                && e.contains("Timestamptz"),
            "{}",
            r[i]
        );
    }
    assert_eq!(
        r[2]["rows"][0][0],
        t("datetime", json!([2023, 11, 14, 22, 13, 20, 0])),
        "{out}"
    );
    assert_eq!(r[2]["columns"][0], json!(["at", "DbDataType::Datetime"]));
    let row = r[3]["rows"][0]
        .as_array()
        .unwrap_or_else(|| panic!("{out}"));
    assert!(row.iter().all(|v| v["t"] == "unsupported"), "{out}");
    assert_eq!(
        r[3]["columns"],
        json!([
            ["j", "DbDataType::Other(\"json\")"],
            ["nm", "DbDataType::Other(\"name\")"],
            ["ch", "DbDataType::Other(\"char\")"],
            ["ci", "DbDataType::Other(\"citext\")"]
        ]),
        "{out}"
    );
    assert_eq!(r[4], json!({ "columns": [], "rows": [] }), "{out}");
    let big = r[5]["error"].as_str().unwrap_or_default();
    assert!(
        big.starts_with("Error::QueryFailed(QueryError::Text(")
            && big.contains("exceeds limit of 134217728 bytes"),
        "{}",
        r[5]
    );
    assert_eq!(r[6]["rows"][0][0], t("str", json!("still usable")), "{out}");
}

#[tokio::test]
async fn open_checks_the_allow_list() {
    let pg = PgCluster::start();
    let host = AppBuilder::new(&app(pg.port()))
        .pg_statements(StatementFilter::Off)
        .start()
        .await;
    let ok = run(
        &host,
        "/db",
        &pg.url("postgres"),
        json!([q("SELECT 1", json!([]))]),
    )
    .await;
    assert_eq!(
        ok["results"][0]["rows"][0][0],
        t("int32", json!(1)),
        "control"
    );
    for address in [
        pg.url("postgres"),
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            pg.port()
        ),
        format!("postgres://postgres@localhost:{}/postgres", pg.port()),
    ] {
        let out = run(&host, "/nodb", &address, json!([q("SELECT 1", json!([]))])).await;
        let err = out["open_error"]
            .as_str()
            .unwrap_or_else(|| panic!("{address}: {out}"));
        assert!(
            err.contains("ConnectionFailed") && err.contains("not permitted"),
            "{err}"
        );
    }
    // The db component may not use another host name for the same server either.
    let out = run(
        &host,
        "/db",
        &format!("postgres://postgres@localhost:{}/postgres", pg.port()),
        json!([]),
    )
    .await;
    assert!(
        out["open_error"]
            .as_str()
            .unwrap()
            .contains("not permitted"),
        "{out}"
    );
}

#[tokio::test]
async fn a_pooled_connection_carries_nothing_to_the_next_request() {
    let pg = PgCluster::start();
    pg.psql(
        "postgres",
        "CREATE TABLE hyg (x int); CREATE SEQUENCE hyg_seq; CREATE ROLE app NOLOGIN; \
         GRANT ALL ON hyg TO app",
    );
    let host = AppBuilder::new(&app(pg.port()))
        .pg_statements(StatementFilter::Off)
        .limits(Limits {
            pg_pool_size: 1,
            pg_statements: StatementFilter::Off,
            ..Limits::default()
        })
        .start()
        .await;
    let url = pg.url("postgres");
    let dirty = run(
        &host,
        "/db",
        &url,
        json!([
            q("SELECT pg_backend_pid()", json!([])),
            x("BEGIN"),
            q(
                "SELECT set_config('tenantgate.context', 'leaked', false)",
                json!([])
            ),
            x("INSERT INTO hyg VALUES (1)"),
            x("CREATE TEMP TABLE scratch (y int)"),
            q("SELECT pg_advisory_lock(42)", json!([])),
            x("SET ROLE app"),
            x("PREPARE leftover AS SELECT 1"),
            q("SELECT current_user::text", json!([])),
        ]),
    )
    .await;
    let r = &dirty["results"];
    assert_eq!(r[8]["rows"][0][0], t("str", json!("app")), "{dirty}");
    let pid = r[0]["rows"][0][0].clone();

    let clean = run(
        &host,
        "/db",
        &url,
        json!([
            q("SELECT pg_backend_pid()", json!([])),
            q(
                "SELECT coalesce(current_setting('tenantgate.context', true), '')",
                json!([])
            ),
            q("SELECT count(*)::int4 FROM hyg", json!([])),
            q("SELECT to_regclass('pg_temp.scratch')::text", json!([])),
            q(
                "SELECT count(*)::int4 FROM pg_locks WHERE locktype = 'advisory'",
                json!([])
            ),
            q("SELECT current_user::text", json!([])),
            q(
                "SELECT count(*)::int4 FROM pg_prepared_statements WHERE name = 'leftover'",
                json!([])
            ),
            q("SELECT pg_current_xact_id_if_assigned() IS NULL", json!([])),
        ]),
    )
    .await;
    let r = &clean["results"];
    assert_eq!(
        r[0]["rows"][0][0], pid,
        "the same pooled connection was reused"
    );
    assert_eq!(
        r[1]["rows"][0][0],
        t("str", json!("")),
        "session setting reset"
    );
    assert_eq!(
        r[2]["rows"][0][0],
        t("int32", json!(0)),
        "open transaction rolled back"
    );
    assert_eq!(
        r[3]["rows"][0][0],
        t("db-null", Value::Null),
        "temp table dropped"
    );
    assert_eq!(
        r[4]["rows"][0][0],
        t("int32", json!(0)),
        "advisory lock released"
    );
    assert_eq!(
        r[5]["rows"][0][0],
        t("str", json!("postgres")),
        "role reset"
    );
    assert_eq!(
        r[6]["rows"][0][0],
        t("int32", json!(0)),
        "prepared statements deallocated"
    );
    assert_eq!(
        r[7]["rows"][0][0],
        t("boolean", json!(true)),
        "not inside the old transaction"
    );

    // State left at session level, outside any transaction, which `ROLLBACK` cannot undo:
    // the host's session reset must clear every piece of it. Each step is checked right
    // after it, in the same request, so a step that silently failed cannot make the
    // clean round below pass.
    let dirty = run(
        &host,
        "/db",
        &url,
        json!([
            q("SELECT pg_backend_pid()", json!([])),
            q(
                "SELECT set_config('tenantgate.context', 'leaked', false)",
                json!([])
            ),
            q("SELECT current_setting('tenantgate.context')", json!([])),
            x("SET statement_timeout = 4242"),
            q("SELECT current_setting('statement_timeout')", json!([])),
            x("CREATE TEMP TABLE scratch (y int)"),
            q("SELECT to_regclass('pg_temp.scratch') IS NOT NULL", json!([])),
            x("LISTEN leftover_channel"),
            q(
                "SELECT count(*)::int4 FROM pg_listening_channels() AS c WHERE c = 'leftover_channel'",
                json!([])
            ),
            x("DECLARE held CURSOR WITH HOLD FOR SELECT 1"),
            q(
                "SELECT count(*)::int4 FROM pg_cursors WHERE name = 'held' AND is_holdable",
                json!([])
            ),
            q("SELECT nextval('hyg_seq')::int4", json!([])),
            q("SELECT currval('hyg_seq')::int4", json!([])),
            q("SELECT pg_advisory_lock(43)", json!([])),
            q(
                "SELECT count(*)::int4 FROM pg_locks WHERE locktype = 'advisory' \
                 AND objid = 43 AND granted AND pid = pg_backend_pid()",
                json!([])
            ),
            x("SET ROLE app"),
            q("SELECT current_user::text", json!([])),
            q("SELECT pg_current_xact_id_if_assigned() IS NULL", json!([])),
        ]),
    )
    .await;
    let r = dirty["results"].as_array().expect("results");
    assert_eq!(r.len(), 18, "{dirty}");
    for (i, step) in r.iter().enumerate() {
        assert!(step["error"].is_null(), "dirtying step {i} failed: {dirty}");
    }
    assert_eq!(
        r[0]["rows"][0][0], pid,
        "the same pooled connection: {dirty}"
    );
    let took_effect = [
        (2, t("str", json!("leaked")), "session setting set"),
        (4, t("str", json!("4242ms")), "statement_timeout set"),
        (6, t("boolean", json!(true)), "temp table created"),
        (8, t("int32", json!(1)), "LISTEN in force"),
        (10, t("int32", json!(1)), "held cursor open"),
        (11, t("int32", json!(1)), "sequence advanced"),
        (12, t("int32", json!(1)), "sequence state in the session"),
        (14, t("int32", json!(1)), "advisory lock held"),
        (16, t("str", json!("app")), "role switched"),
        (17, t("boolean", json!(true)), "outside any transaction"),
    ];
    for (i, want, what) in took_effect {
        assert_eq!(r[i]["rows"][0][0], want, "{what}: {dirty}");
    }
    let clean = run(
        &host,
        "/db",
        &url,
        json!([
            q("SELECT pg_backend_pid()", json!([])),
            q(
                "SELECT coalesce(current_setting('tenantgate.context', true), '')",
                json!([])
            ),
            q("SELECT current_setting('statement_timeout')", json!([])),
            q("SELECT to_regclass('pg_temp.scratch')::text", json!([])),
            q(
                "SELECT count(*)::int4 FROM pg_listening_channels()",
                json!([])
            ),
            q(
                "SELECT count(*)::int4 FROM pg_cursors WHERE name = 'held'",
                json!([])
            ),
            q("SELECT currval('hyg_seq')::int4", json!([])),
            q(
                "SELECT count(*)::int4 FROM pg_locks WHERE locktype = 'advisory'",
                json!([])
            ),
            q("SELECT current_user::text", json!([])),
        ]),
    )
    .await;
    let r = &clean["results"];
    assert_eq!(
        r[0]["rows"][0][0], pid,
        "the same pooled connection: {clean}"
    );
    assert_eq!(
        r[1]["rows"][0][0],
        t("str", json!("")),
        "session setting reset"
    );
    assert_eq!(
        r[2]["rows"][0][0],
        t("str", json!("0")),
        "statement_timeout reset"
    );
    assert_eq!(
        r[3]["rows"][0][0],
        t("db-null", Value::Null),
        "temp table dropped"
    );
    assert_eq!(r[4]["rows"][0][0], t("int32", json!(0)), "LISTEN undone");
    assert_eq!(
        r[5]["rows"][0][0],
        t("int32", json!(0)),
        "held cursor closed"
    );
    assert!(
        r[6]["error"]
            .as_str()
            .is_some_and(|e| e.contains("not yet defined")),
        "sequence state discarded: {}",
        r[6]
    );
    assert_eq!(
        r[7]["rows"][0][0],
        t("int32", json!(0)),
        "advisory lock released"
    );
    assert_eq!(
        r[8]["rows"][0][0],
        t("str", json!("postgres")),
        "role reset"
    );
}
