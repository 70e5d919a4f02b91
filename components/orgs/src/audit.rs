//! `/api/org/audit`: the tenant's audit log, newest first, filtered and paged; and its export.

use spin_sdk::http::Response;
use tenant_db::ParameterValue as P;

use crate::wire::{self, ts, Call, Filter, Params};
use crate::ApiError;

/// The most rows one export holds (a guest has 128 MiB by default; 50,000 events of a
/// few hundred bytes each fit with room to spare).
pub const EXPORT_MAX: i64 = 50_000;
/// Rows read per query while exporting.
pub const EXPORT_CHUNK: i64 = 2_000;

/// The event as the API shows it: the per-tenant `event_id` as `id`, never the global one.
fn item_sql() -> String {
    format!(
        "json_build_object('id', a.event_id, 'at', {}, \
            'actor', json_build_object('kind', a.actor_kind, 'user_id', a.actor_user_id, 'email', u.email), \
            'action', a.action, 'target', a.target, 'before', a.before_state, 'after', a.after_state, \
            'detail', a.detail, 'request_id', a.request_id, 'client_addr', host(a.client_addr))::text AS item, \
         {} AS k_ts, a.event_id::text AS k_key \
         FROM tenantgate.audit_log AS a LEFT JOIN tenantgate.users AS u ON u.id = a.actor_user_id",
        ts("a.created_at"),
        ts("a.created_at")
    )
}

/// The filters both endpoints take: `action` (exact, or a prefix ending in `.`), `actor`
/// (a user id or an email), `target` (exact), `since` and `until` (RFC 3339, `until`
/// exclusive).
fn filters(p: &Params) -> Result<Filter, ApiError> {
    let mut f = Filter::default();
    if let Some(action) = p.get("action") {
        if action.len() > 100 {
            return Err(ApiError::BadRequest("action is too long".into()));
        }
        match action.strip_suffix('.') {
            Some(prefix) => f.and(
                "starts_with(a.action, ?)",
                vec![P::Str(format!("{prefix}."))],
            ),
            None => f.and("a.action = ?", vec![P::Str(action.to_owned())]),
        };
    }
    if let Some(actor) = p.get("actor") {
        match wire::parse_uuid(actor) {
            Some(id) => f.and("a.actor_user_id = ?::text::uuid", vec![P::Str(id)]),
            None => f.and("u.email = lower(?)", vec![P::Str(actor.to_owned())]),
        };
    }
    if let Some(target) = p.get("target") {
        f.and("a.target = ?", vec![P::Str(target.to_owned())]);
    }
    if let Some(since) = p.timestamp("since")? {
        f.and("a.created_at >= ?::text::timestamptz", vec![P::Str(since)]);
    }
    if let Some(until) = p.timestamp("until")? {
        f.and("a.created_at < ?::text::timestamptz", vec![P::Str(until)]);
    }
    Ok(f)
}

/// `GET /api/org/audit?action=&actor=&target=&since=&until=&limit=&after=`.
pub fn list(call: &Call) -> Result<Response, ApiError> {
    let params = call.params()?;
    let page = params.page()?;
    let mut f = filters(&params)?;
    if let Some((t, k)) = &page.after {
        f.and(
            "(a.created_at, a.event_id) < (?::text::timestamptz, ?::text::uuid)",
            vec![P::Str(t.clone()), P::Str(k.clone())],
        );
    }
    let limit = f.limit(page.limit);
    let sql = format!(
        "SELECT {} {} ORDER BY a.created_at DESC, a.event_id DESC LIMIT {limit}",
        item_sql(),
        f.sql()
    );
    let rows = call.read(|tx| tx.query(&sql, &f.params))?;
    Ok(wire::json(200, wire::page(&rows, page.limit)))
}

/// `GET /api/org/audit/export?format=jsonl|csv&...filters`: every matching event, newest
/// first, as an attachment: at most [`EXPORT_MAX`] (then `x-export-truncated: true`; narrow
/// it with `since`/`until`). Rows are read in chunks of [`EXPORT_CHUNK`] in one read-only
/// transaction (one snapshot), each chunk written out and dropped, so a guest's memory holds
/// the output and one chunk, not every row twice.
pub fn export(call: &Call) -> Result<Response, ApiError> {
    let params = call.params()?;
    let csv = match params.get("format").unwrap_or("jsonl") {
        "jsonl" => false,
        "csv" => true,
        _ => return Err(ApiError::BadRequest("format must be jsonl or csv".into())),
    };
    let base = filters(&params)?;
    let mut out = String::new();
    if csv {
        out.push_str(&CSV_COLUMNS.join(","));
        out.push_str("\r\n");
    }
    let truncated =
        call.read(|tx| {
            let (mut written, mut after): (i64, Option<(String, String)>) = (0, None);
            loop {
                let mut f = Filter::default();
                f.params = base.params.clone();
                let mut sql = format!("SELECT {} {}", item_sql(), base.sql());
                if let Some((t, k)) = &after {
                    f.params.push(P::Str(t.clone()));
                    f.params.push(P::Str(k.clone()));
                    let n = f.params.len();
                    sql.push_str(&format!(
                    " {} (a.created_at, a.event_id) < (${}::text::timestamptz, ${n}::text::uuid)",
                    if base.sql().is_empty() { "WHERE" } else { "AND" },
                    n - 1
                ));
                }
                let take = EXPORT_CHUNK.min(EXPORT_MAX + 1 - written);
                let limit = f.limit(take);
                sql.push_str(&format!(
                    " ORDER BY a.created_at DESC, a.event_id DESC LIMIT {limit}"
                ));
                let rows = tx.query(&sql, &f.params)?;
                let mut last = None;
                for row in rows.rows() {
                    if written == EXPORT_MAX {
                        return Ok(true);
                    }
                    let item = row.get::<String>("item").unwrap_or_default();
                    if csv {
                        csv_row(&mut out, &item);
                    } else {
                        out.push_str(&item);
                        out.push('\n');
                    }
                    written += 1;
                    last = Some((
                        row.get::<String>("k_ts").unwrap_or_default(),
                        row.get::<String>("k_key").unwrap_or_default(),
                    ));
                }
                if (rows.rows.len() as i64) < take || last.is_none() {
                    return Ok(false);
                }
                after = last;
            }
        })?;
    let (kind, ext) = if csv {
        ("text/csv; charset=utf-8", "csv")
    } else {
        ("application/x-ndjson", "jsonl")
    };
    let mut resp = Response::builder();
    resp.status(200)
        .header("content-type", kind)
        .header(
            "content-disposition",
            format!("attachment; filename=\"audit.{ext}\""),
        )
        .header("cache-control", "no-store");
    if truncated {
        resp.header("x-export-truncated", "true");
    }
    Ok(resp.body(out).build())
}

/// The CSV columns of an export.
const CSV_COLUMNS: &[&str] = &[
    "id",
    "at",
    "actor_kind",
    "actor_user_id",
    "actor_email",
    "action",
    "target",
    "before",
    "after",
    "detail",
    "request_id",
    "client_addr",
];

/// Appends one event as an RFC 4180 CSV line (JSON values of `before`, `after`, `detail`
/// as JSON text). A field a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first)
/// gets a `'` first.
fn csv_row(out: &mut String, item: &str) {
    let v: serde_json::Value = serde_json::from_str(item).unwrap_or_default();
    let text = |x: &serde_json::Value| match x {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let fields = [
        text(&v["id"]),
        text(&v["at"]),
        text(&v["actor"]["kind"]),
        text(&v["actor"]["user_id"]),
        text(&v["actor"]["email"]),
        text(&v["action"]),
        text(&v["target"]),
        text(&v["before"]),
        text(&v["after"]),
        text(&v["detail"]),
        text(&v["request_id"]),
        text(&v["client_addr"]),
    ];
    let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
    out.push_str(&row.join(","));
    out.push_str("\r\n");
}

fn csv_field(f: &str) -> String {
    let f = if f.starts_with(['=', '+', '-', '@']) {
        format!("'{f}")
    } else {
        f.to_owned()
    };
    if f.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let item = r#"{"id":"e1","at":"t","actor":{"kind":"user","user_id":null,"email":"=cmd|x"},
                      "action":"role.created","target":"a,b","before":null,"after":{"name":"x \"y\""},
                      "detail":{},"request_id":"r","client_addr":"10.0.0.1"}"#;
        let mut csv = String::new();
        csv_row(&mut csv, item);
        let line = csv.lines().next().unwrap();
        assert_eq!(
            line,
            r#"e1,t,user,,'=cmd|x,role.created,"a,b",,"{""name"":""x \""y\""""}",{},r,10.0.0.1"#
        );
    }
}
