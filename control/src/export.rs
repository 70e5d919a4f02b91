//! `tenantgate tenant export`: everything one tenant owns, as newline-delimited JSON, into a directory.
//!
//! ```text
//! <out>/manifest.json              format, tenant, time of the snapshot, every file with rows and sha256
//! <out>/control/<table>.ndjson     domains, roles, role permissions, members (with their email),
//!                                  invitations (without token hashes), its audit log
//! <out>/data/<table>.ndjson        every tenant-scoped table of its placement, in primary-key order
//! ```
//!
//! Each side is read from one snapshot (a read-only repeatable-read transaction), streamed row by
//! row, so a tenant of any size exports in bounded memory. Any status can be exported: a deleted
//! tenant's data is kept for its grace period precisely so that it can be. The export is itself an
//! audit event (`tenant.exported`). It never writes over anything: the directory must be new or
//! empty. The manifest is written last, so a directory without one is an export that failed.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use futures::{pin_mut, TryStreamExt as _};
use sha2::{Digest as _, Sha256};
use tokio_postgres::Client;
use uuid::Uuid;

use crate::db::{ident, Database, Targets};
use crate::error::{Error, Result};
use crate::events;
use crate::placement::PlacementExt as _;
use crate::report::Doing as _;
use crate::tenant::find;
use crate::tenant_data::tenant_tables;

/// The manifest's `format`.
pub const FORMAT: &str = "tenantgate-export/1";

/// One file written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedFile {
    /// Relative to the export directory, `/`-separated.
    pub path: String,
    /// Rows (lines).
    pub rows: u64,
    /// sha256 of the file, hex.
    pub sha256: String,
}

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct ExportReport {
    /// The tenant.
    pub slug: String,
    /// Its id.
    pub id: Uuid,
    /// The directory.
    pub dir: PathBuf,
    /// Every file but the manifest.
    pub files: Vec<ExportedFile>,
}

/// The control-plane rows a tenant owns: (file name, query with `$1` = tenant id).
const CONTROL: &[(&str, &str)] = &[
    (
        "domains",
        "SELECT row_to_json(d)::text FROM (SELECT domain, verification_token, created_at, verified_at, revoked_at \
           FROM tenantgate.tenant_domains WHERE tenant_id = $1 ORDER BY domain) AS d",
    ),
    (
        "roles",
        "SELECT row_to_json(r)::text FROM (SELECT name, built_in, description, \
                coalesce((SELECT array_agg(p.permission ORDER BY p.permission) FROM tenantgate.role_permissions p \
                           WHERE p.tenant_id = r0.tenant_id AND p.role_name = r0.name), '{}') AS permissions \
           FROM tenantgate.roles r0 WHERE tenant_id = $1 ORDER BY name) AS r",
    ),
    (
        "members",
        "SELECT row_to_json(m)::text FROM (SELECT u.id AS user_id, u.email, u.display_name, m0.role_name, m0.created_at \
           FROM tenantgate.memberships m0 JOIN tenantgate.users u ON u.id = m0.user_id \
          WHERE m0.tenant_id = $1 ORDER BY u.email) AS m",
    ),
    (
        "invitations",
        "SELECT row_to_json(i)::text FROM (SELECT id, email, role_name, invited_by_user_id, created_at, expires_at, \
                accepted_at FROM tenantgate.invitations WHERE tenant_id = $1 ORDER BY created_at, id) AS i",
    ),
    (
        "audit_log",
        "SELECT row_to_json(a)::text FROM (SELECT id, created_at, actor_kind, actor_user_id, action, target, detail, \
                request_id FROM tenantgate.audit_log WHERE tenant_id = $1 ORDER BY id) AS a",
    ),
];

/// Exports tenant `slug` into `out` (created; it must not exist or be empty).
pub async fn export(targets: &Targets, slug: &str, out: &Path) -> Result<ExportReport> {
    if out.exists() {
        let mut entries = std::fs::read_dir(out).doing(format_args!(
            "{} exists and is not a readable directory",
            out.display()
        ))?;
        if entries.next().is_some() {
            return Err(Error::ExportDirNotEmpty(out.to_owned()));
        }
    }
    let control = targets.connect(&Database::Control).await?;
    let tenant = find(&control, slug).await?;
    let data = targets.connect(&tenant.placement.database()).await?;
    std::fs::create_dir_all(out.join("control"))
        .and_then(|()| std::fs::create_dir_all(out.join("data")))
        .doing(format_args!("creating {}", out.display()))?;

    let mut files = Vec::new();
    snapshot(&control).await?;
    let exported_at: String = control
        .query_one(
            "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
            &[],
        )
        .await
        .doing("reading the snapshot time")?
        .get(0);
    for (name, sql) in CONTROL {
        let path = format!("control/{name}.ndjson");
        files.push(write_rows(&control, sql, tenant.id, out, &path).await?);
    }
    control
        .batch_execute("COMMIT")
        .await
        .doing("ending the control-plane snapshot")?;

    snapshot(&data).await?;
    let schema = tenant.placement.search_path().to_owned();
    for table in tenant_tables(&data, &schema).await? {
        let order = primary_key(&data, &schema, &table).await?;
        let sql = format!(
            "SELECT row_to_json(t)::text FROM {}.{} AS t WHERE tenant_id = $1{}",
            ident(&schema),
            ident(&table),
            if order.is_empty() {
                String::new()
            } else {
                format!(" ORDER BY {order}")
            }
        );
        let path = format!("data/{table}.ndjson");
        files.push(write_rows(&data, &sql, tenant.id, out, &path).await?);
    }
    data.batch_execute("COMMIT")
        .await
        .doing("ending the data snapshot")?;

    let manifest = serde_json::json!({
        "format": FORMAT,
        "exported_at": exported_at,
        "tenant": {
            "id": tenant.id.to_string(), "slug": tenant.slug, "name": tenant.name, "status": tenant.status,
            "plan": tenant.plan, "placement": tenant.placement.to_string(),
        },
        "files": files.iter().map(|f| serde_json::json!({ "path": f.path, "rows": f.rows, "sha256": f.sha256 }))
            .collect::<Vec<_>>(),
    });
    let manifest_path = out.join("manifest.json");
    let text = serde_json::to_vec_pretty(&manifest).expect("a JSON value serialises");
    std::fs::write(&manifest_path, text)
        .doing(format_args!("writing {}", manifest_path.display()))?;
    events::record(
        &control,
        tenant.id,
        "tenant.exported",
        serde_json::json!({
            "slug": tenant.slug,
            "rows": files.iter().map(|f| (f.path.clone(), f.rows)).collect::<std::collections::BTreeMap<_, _>>(),
        }),
    )
    .await?;
    Ok(ExportReport {
        slug: tenant.slug,
        id: tenant.id,
        dir: out.to_owned(),
        files,
    })
}

/// Starts a read-only transaction that sees one snapshot.
async fn snapshot(client: &Client) -> Result<()> {
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .doing("starting the export snapshot")
}

/// The primary key's columns of `schema.table`, quoted and comma-separated ("" if none).
async fn primary_key(client: &Client, schema: &str, table: &str) -> Result<String> {
    let row = client
        .query_one(
            "SELECT coalesce(string_agg(quote_ident(a.attname), ', ' ORDER BY k.ord), '') \
               FROM pg_index AS i \
               JOIN pg_class AS c ON c.oid = i.indrelid \
               JOIN pg_namespace AS n ON n.oid = c.relnamespace \
               CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) \
               JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum = k.attnum \
              WHERE n.nspname = $1 AND c.relname = $2 AND i.indisprimary",
            &[&schema, &table],
        )
        .await
        .doing(format_args!("reading the primary key of {table}"))?;
    Ok(row.get(0))
}

/// Streams the one-column text rows of `sql` into `out/path`, a line each.
async fn write_rows(
    client: &Client,
    sql: &str,
    tenant: Uuid,
    out: &Path,
    path: &str,
) -> Result<ExportedFile> {
    let file_path = out.join(path);
    let file = std::fs::File::create(&file_path)
        .doing(format_args!("creating {}", file_path.display()))?;
    let mut w = std::io::BufWriter::new(file);
    let mut hash = Sha256::new();
    let mut rows = 0u64;
    let stream = client
        .query_raw(sql, [&tenant])
        .await
        .doing(format_args!("exporting {path}"))?;
    pin_mut!(stream);
    while let Some(row) = stream
        .try_next()
        .await
        .doing(format_args!("exporting {path}"))?
    {
        let line: &str = row.get(0);
        for part in [line.as_bytes(), b"\n"] {
            w.write_all(part)
                .doing(format_args!("writing {}", file_path.display()))?;
            hash.update(part);
        }
        rows += 1;
    }
    w.flush()
        .doing(format_args!("writing {}", file_path.display()))?;
    Ok(ExportedFile {
        path: path.to_owned(),
        rows,
        sha256: hash.finalize().iter().map(|b| format!("{b:02x}")).collect(),
    })
}
