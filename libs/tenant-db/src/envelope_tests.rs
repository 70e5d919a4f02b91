use spin_sdk::pg4::{Column, DbDataType, DbValue, RowSet};

use super::*;

const TAIL: &str = "SELECT tenantgate_r.* FROM (VALUES (1)) AS tenantgate_one (x) LEFT JOIN \
     (SELECT true AS tenantgate_row, tenantgate_q.* FROM tenantgate_q) AS tenantgate_r ON true";

fn wrapped(inner: &str) -> String {
    format!("WITH tenantgate_q AS ({inner}) {TAIL}")
}

#[test]
fn queries_that_return_rows_are_wrapped_whole() {
    for sql in [
        "SELECT id FROM tasks WHERE id = $1",
        "select 1",
        "VALUES (1), (2)",
        "TABLE tasks",
        "(SELECT 1) UNION (SELECT 2)",
        "SELECT * FROM tasks ORDER BY created_at DESC LIMIT 51 FOR UPDATE",
        "INSERT INTO tasks (title) VALUES ($1) RETURNING id",
        "UPDATE tasks SET done = true WHERE id = $1 RETURNING id, done",
        "DELETE FROM tasks WHERE id = $1 RETURNING *",
    ] {
        assert_eq!(wrap(sql), Some(wrapped(sql)), "{sql}");
    }
}

#[test]
fn leading_comments_and_a_trailing_semicolon_are_handled() {
    assert_eq!(
        wrap("  -- list\n/* all /* nested */ of them */ SELECT 1 ;  "),
        Some(wrapped("SELECT 1"))
    );
}

#[test]
fn with_keeps_its_expressions_at_the_top_level() {
    let sql = "WITH d AS (DELETE FROM tasks RETURNING tenant_id) SELECT count(*) FROM d";
    assert_eq!(
        wrap(sql),
        Some(format!(
            "WITH d AS (DELETE FROM tasks RETURNING tenant_id), tenantgate_q AS (SELECT count(*) FROM d) {TAIL}"
        ))
    );
    let rec = "WITH RECURSIVE t(n) AS (VALUES (1) UNION ALL SELECT n + 1 FROM t WHERE n < 5), \
               u AS MATERIALIZED (SELECT 2) SELECT * FROM t, u";
    assert_eq!(
        wrap(rec),
        Some(format!(
            "WITH RECURSIVE t(n) AS (VALUES (1) UNION ALL SELECT n + 1 FROM t WHERE n < 5), \
               u AS MATERIALIZED (SELECT 2), tenantgate_q AS (SELECT * FROM t, u) {TAIL}"
        ))
    );
    let search = "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3) \
                  SEARCH DEPTH FIRST BY n SET ord SELECT n FROM t ORDER BY ord";
    assert!(wrap(search)
        .unwrap()
        .contains("SET ord, tenantgate_q AS (SELECT n FROM t ORDER BY ord)"));
    // A data-modifying main statement without RETURNING returns no rows: not wrapped.
    assert_eq!(wrap("WITH x AS (SELECT 1) DELETE FROM tasks"), None);
    assert!(wrap("WITH x AS (SELECT 1) DELETE FROM tasks RETURNING id").is_some());
}

#[test]
fn keywords_inside_strings_identifiers_and_comments_do_not_count() {
    // The `;` and `SELECT` live inside literals: still one statement.
    for sql in [
        "SELECT 'a; b'",
        "SELECT E'it\\'s; here'",
        "SELECT $$ ; $$, $tag$ ) ; $tag$",
        "SELECT \"odd;name\" FROM t",
        "SELECT 1 -- ; trailing comment",
        "SELECT U&'d\\0061t\\+000061'",
    ] {
        assert_eq!(wrap(sql).as_deref(), Some(wrapped(sql).as_str()), "{sql}");
    }
    // RETURNING in a string is not a RETURNING clause.
    assert_eq!(wrap("INSERT INTO t (x) VALUES ('returning')"), None);
    assert_eq!(wrap("UPDATE t SET x = 1 /* returning */"), None);
    // Nor in a sub-query.
    assert_eq!(
        wrap("INSERT INTO t (x) SELECT y FROM (SELECT 1 AS y) AS returning_q"),
        None
    );
}

#[test]
fn everything_else_is_left_alone() {
    for sql in [
        "",
        "  ",
        "BEGIN",
        "SET ROLE tenantgate_owner",
        "RESET ROLE",
        "TRUNCATE tasks",
        "INSERT INTO tasks (title) VALUES ($1)",
        "UPDATE tasks SET done = true",
        "DELETE FROM tasks",
        "SHOW search_path",
        "EXPLAIN SELECT 1",
        "SELECT 1; DELETE FROM tasks",
        "SELECT 1;;",
        "SELECT (1",
        "SELECT 1)",
        "SELECT 'unterminated",
        "SELECT $x$ unterminated",
        "SELECT 1 /* unterminated",
        "WITH x AS (SELECT 1)",
        "WITH x AS (SELECT 1) (SELECT 2)",
    ] {
        assert_eq!(wrap(sql), None, "{sql:?}");
    }
}

fn col(name: &str) -> Column {
    Column {
        name: name.into(),
        data_type: DbDataType::Int32,
    }
}

#[test]
fn unwrap_removes_the_marker_and_the_empty_row() {
    let none = RowSet {
        columns: vec![col(MARKER), col("a")],
        rows: vec![vec![DbValue::DbNull, DbValue::DbNull]],
    };
    let none = unwrap(none);
    assert_eq!(none.columns.len(), 1);
    assert_eq!(none.columns[0].name, "a");
    assert!(none.rows.is_empty());

    let some = unwrap(RowSet {
        columns: vec![col(MARKER), col("a")],
        rows: vec![
            vec![DbValue::Boolean(true), DbValue::Int32(1)],
            vec![DbValue::Boolean(true), DbValue::DbNull],
        ],
    });
    assert_eq!(some.rows.len(), 2);
    assert!(matches!(some.rows[0][..], [DbValue::Int32(1)]));
    assert!(matches!(some.rows[1][..], [DbValue::DbNull]));
}
