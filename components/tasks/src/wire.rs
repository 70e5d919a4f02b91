//! Input parsing and output shaping: query strings, cursors, ids, bodies, rows.

use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tenant_db::{DbError, DbValue, ParameterValue, RowSet, Tx};

use crate::ApiError;

/// Page size when the client names none, and the largest it may name.
pub const DEFAULT_LIMIT: i64 = 50;
/// The largest page.
pub const MAX_LIMIT: i64 = 200;

/// The query-string parameters the lists take.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// Page size, 1..=[`MAX_LIMIT`].
    pub limit: i64,
    /// Keyset position: (created_at text, id) of the last row of the previous page.
    pub after: Option<(String, String)>,
    /// Only tasks of this project.
    pub project_id: Option<String>,
    /// Only tasks with this `done`.
    pub done: Option<bool>,
}

impl Query {
    /// Parses `limit`, `after`, `project_id` and `done`; other parameters are ignored.
    pub fn parse(qs: &str) -> Result<Query, ApiError> {
        let mut q = Query {
            limit: DEFAULT_LIMIT,
            ..Query::default()
        };
        for pair in qs.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "limit" => {
                    q.limit = v
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| bad(format!("limit must be 1 to {MAX_LIMIT}")))?
                }
                "after" => {
                    q.after = Some(
                        decode_cursor(v)
                            .ok_or_else(|| bad("after is not a cursor this API gave"))?,
                    )
                }
                "project_id" => {
                    q.project_id =
                        Some(parse_uuid(v).ok_or_else(|| bad("project_id must be a uuid"))?)
                }
                "done" => {
                    q.done = Some(match v {
                        "true" => true,
                        "false" => false,
                        _ => return Err(bad("done must be true or false")),
                    })
                }
                _ => {}
            }
        }
        Ok(q)
    }
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::BadRequest(msg.into())
}

/// A canonical (lower-case, hyphenated) uuid, or None.
pub fn parse_uuid(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let ok = b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        });
    ok.then(|| s.to_ascii_lowercase())
}

/// The opaque `next` cursor for a row's keyset position.
pub fn encode_cursor(created_at: &str, id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{created_at}|{id}"))
}

fn decode_cursor(s: &str) -> Option<(String, String)> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let (ts, id) = raw.split_once('|')?;
    // The timestamp is what `to_char` below produced: digits and these separators only.
    let ts_ok = ts.len() == 27
        && ts
            .bytes()
            .all(|c| c.is_ascii_digit() || b"-:.TZ".contains(&c));
    Some((ts_ok.then(|| ts.to_owned())?, parse_uuid(id)?))
}

/// Deserialises a JSON body, refusing unknown fields (the types say so) with a 400.
pub fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| bad(format!("invalid JSON body: {e}")))
}

/// The SQL expression that renders a timestamptz column as the API's timestamp text
/// (UTC, microseconds), which is also the cursor's keyset value.
pub fn ts(column: &str) -> String {
    format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS {column}")
}

/// Rows as JSON objects keyed by column name (text, bool and NULL columns).
pub fn objects(rows: &RowSet) -> Vec<Value> {
    rows.rows
        .iter()
        .map(|row| {
            let mut obj = Map::new();
            for (col, v) in rows.columns.iter().zip(row) {
                obj.insert(col.name.clone(), json_value(v));
            }
            Value::Object(obj)
        })
        .collect()
}

fn json_value(v: &DbValue) -> Value {
    match v {
        DbValue::Str(s) => Value::String(s.clone()),
        DbValue::Boolean(b) => Value::Bool(*b),
        DbValue::Int64(n) => Value::from(*n),
        DbValue::Int32(n) => Value::from(*n),
        _ => Value::Null,
    }
}

/// A page of rows: `{"items": [...], "next": cursor or null}`. A full page gets a
/// cursor to the next one.
pub fn page(rows: &RowSet, limit: i64) -> Value {
    let items = objects(rows);
    let next = (items.len() as i64 == limit)
        .then(|| items.last())
        .flatten()
        .and_then(|last| {
            Some(encode_cursor(
                last["created_at"].as_str()?,
                last["id"].as_str()?,
            ))
        });
    serde_json::json!({ "items": items, "next": next })
}

/// One keyset page of `table`: `conditions` (SQL with one `?` per value, and the
/// values), then the cursor and the limit from `q`, in creation order.
pub fn list(
    tx: &Tx,
    table: &str,
    columns: &str,
    mut conditions: Vec<(&str, Vec<ParameterValue>)>,
    q: &Query,
) -> Result<RowSet, DbError> {
    if let Some((ts, id)) = &q.after {
        conditions.push((
            "(created_at, id) > (?::text::timestamptz, ?::text::uuid)",
            vec![
                ParameterValue::Str(ts.clone()),
                ParameterValue::Str(id.clone()),
            ],
        ));
    }
    let mut params = Vec::new();
    let mut clauses = Vec::new();
    for (sql, values) in conditions {
        let mut clause = sql.to_owned();
        for value in values {
            params.push(value);
            clause = clause.replacen('?', &format!("${}", params.len()), 1);
        }
        clauses.push(clause);
    }
    params.push(ParameterValue::Int64(q.limit));
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    tx.query(
        &format!(
            "SELECT {columns} FROM {table} {filter} ORDER BY created_at, id LIMIT ${}",
            params.len()
        ),
        &params,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters() {
        let c = encode_cursor(
            "2026-11-22T10:00:00.000001Z",
            "a2000000-0000-4000-8000-000000000001",
        );
        let q = Query::parse(&format!("limit=2&done=false&after={c}&x=1")).unwrap();
        assert_eq!(q.limit, 2);
        assert_eq!(q.done, Some(false));
        assert_eq!(q.after.unwrap().0, "2026-11-22T10:00:00.000001Z");
        assert_eq!(Query::parse("").unwrap().limit, DEFAULT_LIMIT);
        for bad in [
            "limit=0",
            "limit=201",
            "limit=x",
            "done=yes",
            "after=zz",
            "project_id=1",
        ] {
            assert!(
                matches!(Query::parse(bad), Err(ApiError::BadRequest(_))),
                "{bad}"
            );
        }
        // A cursor whose timestamp could smuggle SQL text is refused before any query.
        let evil = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode("2026'); DROP TABLE x;--|a2000000-0000-4000-8000-000000000001");
        assert!(Query::parse(&format!("after={evil}")).is_err());
    }

    #[test]
    fn uuids() {
        assert!(parse_uuid("A2000000-0000-4000-8000-00000000000f").is_some());
        for bad in [
            "",
            "a2000000000040008000000000000001",
            "a2000000-0000-4000-8000-00000000000g",
            "../etc",
        ] {
            assert!(parse_uuid(bad).is_none(), "{bad}");
        }
    }
}
