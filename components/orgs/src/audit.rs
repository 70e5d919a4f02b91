//! `/api/org/audit`: the tenant's audit log, newest first, filtered and paged; and its export.

use spin_sdk::http::Response;
use tenant_db::ParameterValue as P;

use crate::wire::{self, ts, Call, Filter, Params};
use crate::ApiError;

/// The most rows one export holds.
pub const EXPORT_MAX: i64 = 100_000;

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

/// `GET /api/org/audit/export?format=jsonl|csv&...filters`: every matching event (at most
/// [`EXPORT_MAX`], newest first) as an attachment.
pub fn export(call: &Call) -> Result<Response, ApiError> {
    let params = call.params()?;
    let csv = match params.get("format").unwrap_or("jsonl") {
        "jsonl" => false,
        "csv" => true,
        _ => return Err(ApiError::BadRequest("format must be jsonl or csv".into())),
    };
    let mut f = filters(&params)?;
    let limit = f.limit(EXPORT_MAX);
    let sql = format!(
        "SELECT {} {} ORDER BY a.created_at DESC, a.event_id DESC LIMIT {limit}",
        item_sql(),
        f.sql()
    );
    let rows = call.read(|tx| tx.query(&sql, &f.params))?;
    let items = wire::texts(&rows, "item");
    let (body, kind, ext) = if csv {
        (to_csv(&items), "text/csv; charset=utf-8", "csv")
    } else {
        let mut out = items.join("\n");
        if !out.is_empty() {
            out.push('\n');
        }
        (out, "application/x-ndjson", "jsonl")
    };
    Ok(Response::builder()
        .status(200)
        .header("content-type", kind)
        .header(
            "content-disposition",
            format!("attachment; filename=\"audit.{ext}\""),
        )
        .header("cache-control", "no-store")
        .body(body)
        .build())
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

/// RFC 4180 CSV of the events (JSON values of `before`, `after`, `detail` as JSON text). A
/// field a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) gets a `'` first.
fn to_csv(items: &[String]) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push_str("\r\n");
    for item in items {
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
    out
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
        let csv = to_csv(&[item.to_owned()]);
        let line = csv.lines().nth(1).unwrap();
        assert_eq!(
            line,
            r#"e1,t,user,,'=cmd|x,role.created,"a,b",,"{""name"":""x \""y\""""}",{},r,10.0.0.1"#
        );
        assert!(csv.starts_with("id,at,actor_kind,"));
    }
}
