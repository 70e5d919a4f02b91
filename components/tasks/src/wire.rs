//! Input parsing and output shaping: query strings, cursors, ids, bodies, rows.

use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;
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

/// Deserialises a JSON body, refusing unknown fields (the types say so) and a NUL character
/// in any string (named by its JSON path) with a 400: `backend-api`'s parser, shared by
/// every component.
pub fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    backend_api::json_body(bytes).map_err(|e| bad(e.0))
}

/// The SQL expression that renders a timestamptz column as the API's timestamp text
/// (UTC, microseconds), which is also the cursor's keyset value.
pub fn ts(column: &str) -> String {
    format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS {column}")
}

/// Rows as JSON objects keyed by column name (text, bool, integer and NULL columns; any
/// other type is `null`), serialised straight from the row set: no intermediate
/// `serde_json::Value`, no copied strings. Keys come in name order in every object.
pub struct Objects<'a> {
    rows: &'a RowSet,
    /// Column indexes in the order their names sort.
    order: Vec<usize>,
}

impl<'a> Objects<'a> {
    /// The rows of `rows`.
    pub fn new(rows: &'a RowSet) -> Objects<'a> {
        let mut order: Vec<usize> = (0..rows.columns.len()).collect();
        order.sort_by(|&a, &b| rows.columns[a].name.cmp(&rows.columns[b].name));
        Objects { rows, order }
    }

    /// The first row alone, if there is one.
    pub fn first(&self) -> Option<Object<'_>> {
        self.rows.rows.first().map(|row| self.object(row))
    }

    fn object<'r>(&'r self, row: &'r [DbValue]) -> Object<'r> {
        Object {
            columns: &self.rows.columns,
            order: &self.order,
            row,
        }
    }
}

impl Serialize for Objects<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.rows.rows.len()))?;
        for row in &self.rows.rows {
            seq.serialize_element(&self.object(row))?;
        }
        seq.end()
    }
}

/// One row as a JSON object (see [`Objects`]).
pub struct Object<'a> {
    columns: &'a [tenant_db::Column],
    order: &'a [usize],
    row: &'a [DbValue],
}

impl Serialize for Object<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.order.len()))?;
        for &i in self.order {
            let Some(value) = self.row.get(i) else {
                continue;
            };
            map.serialize_key(&self.columns[i].name)?;
            match value {
                DbValue::Str(v) => map.serialize_value(v)?,
                DbValue::Boolean(v) => map.serialize_value(v)?,
                DbValue::Int64(v) => map.serialize_value(v)?,
                DbValue::Int32(v) => map.serialize_value(v)?,
                _ => map.serialize_value(&())?,
            }
        }
        map.end()
    }
}

/// A page of rows: `{"items": [...], "next": cursor or null}`. A full page gets a
/// cursor to the next one, from its last row's `created_at` and `id`.
pub fn page(rows: &RowSet, limit: i64) -> Vec<u8> {
    let text = |row: &[DbValue], name: &str| {
        let i = rows.columns.iter().position(|c| c.name == name)?;
        match row.get(i)? {
            DbValue::Str(v) => Some(v.clone()),
            _ => None,
        }
    };
    let next = (rows.rows.len() as i64 == limit)
        .then(|| rows.rows.last())
        .flatten()
        .and_then(|last| {
            Some(encode_cursor(
                &text(last, "created_at")?,
                &text(last, "id")?,
            ))
        });
    #[derive(Serialize)]
    struct Page<'a> {
        items: Objects<'a>,
        next: Option<String>,
    }
    serde_json::to_vec(&Page {
        items: Objects::new(rows),
        next,
    })
    .expect("rows of text, bool and integers always serialise")
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
    // The order names the table's columns: bare `created_at, id` would sort by the output
    // columns of those names (the text renderings), which no index serves, so every list
    // would read and sort all of the tenant's rows instead of walking
    // `(tenant_id, created_at, id)` and stopping at the limit.
    tx.query(
        &format!(
            "SELECT {columns} FROM {table} {filter} ORDER BY {table}.created_at, {table}.id LIMIT ${}",
            params.len()
        ),
        &params,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use tenant_db::Column;

    fn rows() -> RowSet {
        let col = |name: &str| Column {
            name: name.into(),
            data_type: spin_sdk::pg4::DbDataType::Str,
        };
        RowSet {
            columns: vec![
                col("title"),
                col("id"),
                col("done"),
                col("created_at"),
                col("n"),
            ],
            rows: vec![
                vec![
                    DbValue::Str("a \"quoted\" \u{e9}".into()),
                    DbValue::Str("id1".into()),
                    DbValue::Boolean(true),
                    DbValue::Str("t1".into()),
                    DbValue::Int32(3),
                ],
                vec![
                    DbValue::Str("b".into()),
                    DbValue::Str("id2".into()),
                    DbValue::Boolean(false),
                    DbValue::Str("t2".into()),
                    DbValue::DbNull,
                ],
            ],
        }
    }

    #[test]
    fn rows_serialise_as_objects_with_sorted_keys() {
        let rows = rows();
        let body = page(&rows, 2);
        let text = std::str::from_utf8(&body).unwrap();
        assert!(
            text.starts_with(
                r#"{"items":[{"created_at":"t1","done":true,"id":"id1","n":3,"title":"a \"quoted\" é"},"#
            ),
            "{text}"
        );
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v["items"][1],
            json!({"created_at": "t2", "done": false, "id": "id2", "n": null, "title": "b"})
        );
        assert_eq!(
            v["next"],
            json!(encode_cursor("t2", "id2")),
            "a full page has a cursor"
        );
        let v: Value = serde_json::from_slice(&page(&rows, 3)).unwrap();
        assert_eq!(v["next"], Value::Null, "a short page has none");
        assert_eq!(v["items"].as_array().unwrap().len(), 2);
        let first = serde_json::to_value(Objects::new(&rows).first().unwrap()).unwrap();
        assert_eq!(first, v["items"][0]);
        let empty = RowSet {
            columns: rows.columns.clone(),
            rows: vec![],
        };
        assert!(Objects::new(&empty).first().is_none());
        assert_eq!(page(&empty, 2), br#"{"items":[],"next":null}"#);
    }

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
