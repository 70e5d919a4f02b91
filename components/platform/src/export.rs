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
//! tenant's rows, and every statement also names `tenant_id = current_tenant_id()`. The data
//! side is one repeatable-read snapshot, counted and sized first, then read in pages; it runs
//! inside the control-plane transaction, so an export that fails, or is over [`MAX_ROWS`]
//! (413 `export_too_large`; no truncated export is ever sent), leaves no audit row.

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
    /// Starts with the header line (`tenant` is a JSON object), with room for `bytes` more
    /// (an export near the cap does not fit in a guest's memory twice, so the text is sized
    /// once rather than grown by doubling).
    pub fn new(tenant: &str, exported_at: &str, bytes: usize) -> Lines {
        let mut out = String::with_capacity(bytes + tenant.len() + 128);
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

/// Data rows read per statement.
const CHUNK: i64 = 5_000;
/// What a line adds around its row: `{"file":"data/<table>","row":` and `}\n`.
const LINE_OVERHEAD: usize = 24;

/// A tenant-scoped table of the placement, with its rows and their size.
struct Table {
    name: String,
    qualified: String,
    /// The primary key's columns as `t.a, t.b` (empty: no primary key).
    t_cols: String,
    /// The same as `x.a, x.b`.
    x_cols: String,
    /// `json_build_object('a', t.a, ...)`: a row's key as JSON.
    object: String,
    rows: usize,
    bytes: usize,
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
        let slug = text("slug");
        // The data side in one snapshot: sizes first, so an export over the cap is refused
        // before anything big is read.
        let lines = data.snapshot(|dtx| -> Result<Lines, ApiError> {
            let tables = tables(dtx, &data.target().schema)?;
            let data_rows: usize = tables.iter().map(|t| t.rows).sum();
            let room = MAX_ROWS
                .checked_sub(data_rows)
                .ok_or(ApiError::ExportTooLarge)?;
            let control = tx.query(
                "SELECT e.file AS file, e.\"row\"::text AS line \
                   FROM tenantgate.platform_export_control($1::text::inet) AS e LIMIT $2",
                &[call.addr(), P::Int64(room as i64 + 1)],
            )?;
            if control.rows.len() > room {
                return Err(ApiError::ExportTooLarge);
            }
            let control: Vec<(String, String)> = control
                .rows()
                .map(|r| {
                    let file = r.get::<String>("file").unwrap_or_default();
                    let line = r.get::<String>("line").unwrap_or_else(|| "null".into());
                    (format!("control/{file}"), line)
                })
                .collect();
            let bytes = control
                .iter()
                .map(|(f, l)| f.len() + l.len() + LINE_OVERHEAD)
                .chain(
                    tables
                        .iter()
                        .map(|t| t.bytes + t.rows * (t.name.len() + LINE_OVERHEAD)),
                )
                .sum::<usize>()
                + 64 * (tables.len() + CONTROL_FILES.len() + 1);
            let mut lines = Lines::new(&text("tenant"), &text("at"), bytes);
            for (file, line) in &control {
                lines.push(file, line)?;
            }
            drop(control);
            for table in &tables {
                table_rows(dtx, table, &mut lines)?;
            }
            Ok(lines)
        })?;
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

/// The tenant-scoped tables (those with a `tenant_id` column) of `schema`, by name: the
/// schema-qualified name and, from the primary key's columns (quoted by Postgres), the key as
/// `t.a, t.b` and `x.a, x.b` and the JSON object `json_build_object('a', t.a, 'b', t.b)` (a
/// page's last key, read back as a row of the table's type).
const TABLES: &str = "SELECT c.relname::text AS name, \
        quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qualified, \
        coalesce(k.t_cols, '') AS t_cols, coalesce(k.x_cols, '') AS x_cols, \
        coalesce(k.object, '') AS object \
   FROM pg_catalog.pg_class AS c \
   JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace \
   LEFT JOIN LATERAL ( \
        SELECT string_agg('t.' || quote_ident(a.attname), ', ' ORDER BY k.ord) AS t_cols, \
               string_agg('x.' || quote_ident(a.attname), ', ' ORDER BY k.ord) AS x_cols, \
               'json_build_object(' || string_agg(quote_literal(a.attname) || ', t.' || quote_ident(a.attname), \
                                                  ', ' ORDER BY k.ord) || ')' AS object \
          FROM pg_catalog.pg_index AS i \
          CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) \
          JOIN pg_catalog.pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
         WHERE i.indrelid = c.oid AND i.indisprimary) AS k ON true \
  WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') \
    AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a \
                 WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped) \
  ORDER BY c.relname";

/// The statement's rows of the tenant: RLS returns only the context tenant's, and the
/// statement says so too.
const MINE: &str = "WHERE t.tenant_id = tenantgate.current_tenant_id()";

fn tables(tx: &Tx, schema: &str) -> Result<Vec<Table>, ApiError> {
    let listed: RowSet = tx.query(TABLES, &[P::Str(schema.to_owned())])?;
    let mut tables = Vec::new();
    for row in listed.rows() {
        let get = |name: &str| -> Result<String, DbError> {
            row.get::<String>(name)
                .ok_or_else(|| DbError::Decode(format!("table list: {name}")))
        };
        let (name, qualified) = (get("name")?, get("qualified")?);
        let size = tx.query(
            &format!(
                "SELECT count(*)::bigint AS n, \
                        coalesce(sum(octet_length(row_to_json(t)::text)), 0)::bigint AS bytes \
                   FROM {qualified} AS t {MINE}"
            ),
            &[],
        )?;
        let size = size.rows().next();
        let number = |c: &str| {
            size.as_ref()
                .and_then(|r| r.get::<i64>(c))
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(0)
        };
        tables.push(Table {
            rows: number("n"),
            bytes: number("bytes"),
            name,
            qualified,
            t_cols: get("t_cols")?,
            x_cols: get("x_cols")?,
            object: get("object")?,
        });
    }
    Ok(tables)
}

/// Adds the table's rows in primary-key order, [`CHUNK`] per statement, each page after the
/// previous one's last key (all in the transaction's one snapshot, so the pages neither skip
/// nor repeat a row, and each costs its own rows only).
fn table_rows(tx: &Tx, table: &Table, lines: &mut Lines) -> Result<(), ApiError> {
    let file = format!("data/{}", table.name);
    lines.file(&file);
    let Table {
        qualified,
        t_cols,
        x_cols,
        object,
        ..
    } = table;
    if t_cols.is_empty() {
        // No key to page by: one statement (the row count is bounded by the cap).
        let rows = tx.query(
            &format!("SELECT row_to_json(t)::text AS line FROM {qualified} AS t {MINE} LIMIT $1"),
            &[P::Int64(lines.room() as i64 + 1)],
        )?;
        for row in rows.rows() {
            lines.push(&file, &row.get::<String>("line").unwrap_or_default())?;
        }
        return Ok(());
    }
    let select = format!(
        "SELECT row_to_json(t)::text AS line, {object}::text AS k FROM {qualified} AS t {MINE}"
    );
    let first = format!("{select} ORDER BY {t_cols} LIMIT $1");
    let next = format!(
        "{select} AND ({t_cols}) > (SELECT {x_cols} FROM json_populate_record(NULL::{qualified}, $2::text::json) AS x) \
         ORDER BY {t_cols} LIMIT $1"
    );
    let mut after: Option<String> = None;
    loop {
        let rows = match &after {
            None => tx.query(&first, &[P::Int64(CHUNK)])?,
            Some(k) => tx.query(&next, &[P::Int64(CHUNK), P::Str(k.clone())])?,
        };
        for row in rows.rows() {
            lines.push(&file, &row.get::<String>("line").unwrap_or_default())?;
        }
        if (rows.rows.len() as i64) < CHUNK {
            return Ok(());
        }
        after = rows.rows().last().and_then(|r| r.get::<String>("k"));
        if after.is_none() {
            return Err(DbError::Decode("a page's last key".into()).into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_have_a_header_rows_and_an_end_with_counts() {
        let mut l = Lines::new(r#"{"slug":"acme"}"#, "2026-12-01T12:00:00.000000Z", 0);
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
        let mut l = Lines::new("{}", "t", 0);
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
