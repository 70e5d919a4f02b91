//! `GET /api/platform/tenants/{slug}/export`: everything the tenant owns as newline-delimited
//! JSON, the content of `tenantgate tenant export` in one download:
//!
//! ```text
//! {"format":"tenantgate-export/1","tenant":{...},"exported_at":"..."}
//! {"file":"control/domains","row":{...}}         control-plane rows, in the CLI's file order
//! {"file":"data/projects","row":{...}}           every tenant-scoped table of its placement,
//! ...                                            by table name, each in primary-key order
//! {"end":true,"rows":{"control/domains":1,...}}
//! ```
//!
//! The control rows come from `tenantgate.platform_export_control`, which also writes the
//! `tenant.exported` audit row; the data rows are read with the tenant's context through
//! [`TenantDb::new`] (its placement: shared, schema or dedicated), so RLS returns exactly that
//! tenant's rows, and every statement also names `tenant_id = current_tenant_id()`. Both reads
//! happen inside the control-plane transaction: an export that fails, or is over
//! [`MAX_ROWS`] (413 `export_too_large`, no truncated export is ever sent), leaves no audit row.

use spin_sdk::http::Response;
use tenant_db::{Databases, DbError, ParameterValue as P, RowSet, TenantDb, Tx};

use crate::wire::{ts, Call};
use crate::ApiError;

/// The header line's `format` (the CLI's manifest format).
pub const FORMAT: &str = "tenantgate-export/1";
/// The most rows (control and data together) one export over HTTP holds.
pub const MAX_ROWS: usize = 100_000;
/// The control-plane files, in order (the CLI's `control/*.ndjson`).
pub const CONTROL_FILES: &[&str] = &["domains", "roles", "members", "invitations", "audit_log"];

/// The lines of an export, and the rows per file for the last line.
#[derive(Debug, Default)]
pub struct Lines {
    out: String,
    counts: Vec<(String, usize)>,
    total: usize,
}

impl Lines {
    /// Starts with the header line (`tenant` is a JSON object).
    pub fn new(tenant: &str, exported_at: &str) -> Lines {
        let mut out = String::new();
        out.push_str(&format!(
            "{{\"format\":\"{FORMAT}\",\"tenant\":{tenant},\"exported_at\":{}}}\n",
            serde_json::Value::String(exported_at.to_owned())
        ));
        let counts = CONTROL_FILES
            .iter()
            .map(|f| (format!("control/{f}"), 0))
            .collect();
        Lines {
            out,
            counts,
            total: 0,
        }
    }

    /// How many more rows fit.
    pub fn room(&self) -> usize {
        MAX_ROWS - self.total
    }

    /// Adds a row (`row` is a JSON object Postgres built) of `file`; refuses the export
    /// once it is over [`MAX_ROWS`].
    pub fn push(&mut self, file: &str, row: &str) -> Result<(), ApiError> {
        if self.total == MAX_ROWS {
            return Err(ApiError::ExportTooLarge);
        }
        self.total += 1;
        let name = serde_json::Value::String(file.to_owned());
        self.out
            .push_str(&format!("{{\"file\":{name},\"row\":{row}}}\n"));
        match self.counts.iter_mut().find(|(f, _)| f == file) {
            Some((_, n)) => *n += 1,
            None => self.counts.push((file.to_owned(), 1)),
        }
        Ok(())
    }

    /// Names a file that may hold no rows (so the last line lists it with 0).
    pub fn file(&mut self, file: &str) {
        if !self.counts.iter().any(|(f, _)| f == file) {
            self.counts.push((file.to_owned(), 0));
        }
    }

    /// The whole export, with the last line.
    pub fn finish(mut self) -> String {
        let rows: Vec<String> = self
            .counts
            .iter()
            .map(|(f, n)| format!("{}:{n}", serde_json::Value::String(f.clone())))
            .collect();
        self.out.push_str(&format!(
            "{{\"end\":true,\"rows\":{{{}}}}}\n",
            rows.join(",")
        ));
        self.out
    }
}

/// Answers the export of the context's tenant.
pub fn export(call: &Call, dbs: &Databases) -> Result<Response, ApiError> {
    let data = TenantDb::new(call.db.context().clone(), dbs)?;
    let (slug, body) = call.db.write(|tx| -> Result<_, ApiError> {
        let head = tx.query(
            &format!(
                "SELECT json_build_object({})::text AS tenant, t.slug AS slug, {} AS at \
                   FROM tenantgate.platform_tenant() AS t",
                crate::tenants::fields(),
                ts("now()")
            ),
            &[],
        )?;
        let head = head.rows().next().ok_or(ApiError::NotFound("tenant"))?;
        let text = |name: &str| head.get::<String>(name).unwrap_or_default();
        let (slug, mut lines) = (text("slug"), Lines::new(&text("tenant"), &text("at")));
        let control = tx.query(
            "SELECT e.file AS file, e.\"row\"::text AS line \
               FROM tenantgate.platform_export_control($1::text::inet) AS e LIMIT $2",
            &[call.addr(), P::Int64((MAX_ROWS + 1) as i64)],
        )?;
        for row in control.rows() {
            let file = row.get::<String>("file").unwrap_or_default();
            let value = row.get::<String>("line").unwrap_or_else(|| "null".into());
            lines.push(&format!("control/{file}"), &value)?;
        }
        data.read(|dtx| data_rows(dtx, &data, &mut lines))?;
        Ok((slug, lines.finish()))
    })?;
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/x-ndjson")
        .header(
            "content-disposition",
            format!("attachment; filename=\"{slug}-export.ndjson\""),
        )
        .header("cache-control", "no-store")
        .body(body)
        .build())
}

/// The tenant-scoped tables (those with a `tenant_id` column) of `schema`: the name, the
/// schema-qualified name and the primary key's columns (as `t.col, ...`), quoted by Postgres.
const TABLES: &str = "SELECT c.relname::text AS name, \
        quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qualified, \
        coalesce((SELECT string_agg('t.' || quote_ident(a.attname), ', ' ORDER BY k.ord) \
                    FROM pg_catalog.pg_index AS i \
                    CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) \
                    JOIN pg_catalog.pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
                   WHERE i.indrelid = c.oid AND i.indisprimary), '') AS pk \
   FROM pg_catalog.pg_class AS c \
   JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace \
  WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') \
    AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a \
                 WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped) \
  ORDER BY c.relname";

fn data_rows(tx: &Tx, db: &TenantDb, lines: &mut Lines) -> Result<(), ApiError> {
    let tables: RowSet = tx.query(TABLES, &[P::Str(db.target().schema.clone())])?;
    for table in tables.rows() {
        let get = |name: &str| -> Result<String, DbError> {
            table
                .get::<String>(name)
                .ok_or_else(|| DbError::Decode(format!("table list: {name}")))
        };
        let (name, qualified, pk) = (get("name")?, get("qualified")?, get("pk")?);
        let file = format!("data/{name}");
        lines.file(&file);
        let order = if pk.is_empty() {
            String::new()
        } else {
            format!(" ORDER BY {pk}")
        };
        let rows = tx.query(
            &format!(
                "SELECT row_to_json(t)::text AS line FROM {qualified} AS t \
                  WHERE t.tenant_id = tenantgate.current_tenant_id(){order} LIMIT $1"
            ),
            &[P::Int64(lines.room() as i64 + 1)],
        )?;
        for row in rows.rows() {
            lines.push(&file, &row.get::<String>("line").unwrap_or_default())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_have_a_header_rows_and_an_end_with_counts() {
        let mut l = Lines::new(r#"{"slug":"acme"}"#, "2026-12-01T12:00:00.000000Z");
        l.push("control/members", r#"{"email":"a@acme.test"}"#)
            .unwrap();
        l.push("control/members", r#"{"email":"b@acme.test"}"#)
            .unwrap();
        l.file("data/projects");
        l.push("data/tasks", r#"{"title":"x"}"#).unwrap();
        let text = l.finish();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0]["format"], FORMAT);
        assert_eq!(lines[0]["tenant"]["slug"], "acme");
        assert_eq!(lines[0]["exported_at"], "2026-12-01T12:00:00.000000Z");
        assert_eq!(lines[1]["file"], "control/members");
        assert_eq!(lines[2]["row"]["email"], "b@acme.test");
        assert_eq!(lines[3]["file"], "data/tasks");
        let end = &lines[4];
        assert_eq!(end["end"], true);
        assert_eq!(end["rows"]["control/members"], 2);
        assert_eq!(end["rows"]["control/audit_log"], 0);
        assert_eq!(end["rows"]["data/projects"], 0);
        assert_eq!(end["rows"]["data/tasks"], 1);
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn an_export_over_the_cap_is_refused_not_truncated() {
        let mut l = Lines::new("{}", "t");
        for _ in 0..MAX_ROWS {
            l.push("data/tasks", "{}").unwrap();
        }
        assert_eq!(l.room(), 0);
        assert!(matches!(
            l.push("data/tasks", "{}"),
            Err(ApiError::ExportTooLarge)
        ));
    }
}
