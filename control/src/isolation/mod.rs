//! `tenantgate audit isolation`: checks every tenant-scoped table in every database the routing table
//! names, by catalog and by behaviour.
//!
//! Catalog, per table with a `tenant_id` column (schemas `tenantgate`, `app`, `tenant_*`): RLS enabled
//! and forced; exactly one policy, permissive, `FOR ALL TO tenantgate_app`, `USING` = `WITH CHECK` =
//! `tenant_id = (SELECT tenantgate.current_tenant_id())`; an index led by `tenant_id`; foreign keys to
//! other tenant tables that include `tenant_id`; no `TRUNCATE`/`REFERENCES`/`TRIGGER` for the
//! application role. A table without `tenant_id` must be marked `platform-scoped:` in its comment. Per
//! database: the application role is not superuser, has no `BYPASSRLS`, is a member of no role, owns
//! nothing, and may not create objects or temporary tables. And what a role may do to itself or a grant
//! may reopen (`drift.rs`, issue 12): role-level settings of the application and directory roles
//! (`ALTER ROLE CURRENT_USER SET ...`), the directory role's attributes, functions and tables beyond each
//! role's duty, side-channel functions and views (statement text, cancellation, statistics, large
//! objects, `pg_notify`), large objects present, `CONNECT` on databases that are not tenantgate's and
//! `TEMPORARY` anywhere.
//!
//! Behaviour, per tenant table: under the signed context of each tenant placed there and of a sample of
//! other tenants, as the application role, no row of another tenant is visible or updatable, and the
//! viewer's own rows are all visible; without a context nothing is visible; as the owner role (the role
//! migrations run as) under a tenant's context nothing is visible. The contexts are signed with a
//! temporary key, written to each database for the audit and removed after it.

mod behaviour;
mod catalog;
mod drift;

use std::collections::BTreeSet;
use std::fmt;

use tokio_postgres::Client;
use uuid::Uuid;

use tenant_contract::context::ContextSigner;

use crate::db::{Database, Targets};
use crate::error::{Error, Result};
use crate::placement::PlacementExt as _;
use crate::report::Doing as _;
use crate::tenant::{self, Tenant};
use behaviour::{behaviour, viewers};
use catalog::{catalog_findings, role_findings};
pub use drift::{APP_FUNCTIONS, DIRECTORY_FUNCTIONS};

/// One problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Database (`control` or a target name).
    pub database: String,
    /// `schema.table`, or `-` for database-wide findings.
    pub table: String,
    /// Short name of the check.
    pub check: &'static str,
    /// What was found.
    pub detail: String,
}

/// One audited table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableLine {
    /// Database.
    pub database: String,
    /// `schema.table`.
    pub table: String,
    /// Tenant-scoped or platform-scoped.
    pub scoped: bool,
    /// Contexts tried against it.
    pub contexts: usize,
    /// Findings on this table.
    pub findings: usize,
}

/// The audit's result.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Every table looked at.
    pub tables: Vec<TableLine>,
    /// Every problem.
    pub findings: Vec<Finding>,
}

impl Report {
    /// True when nothing was found.
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = self
            .tables
            .iter()
            .map(|t| t.table.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let dw = self
            .tables
            .iter()
            .map(|t| t.database.len())
            .max()
            .unwrap_or(8)
            .max(8);
        writeln!(
            f,
            "{:dw$}  {:w$}  {:8}  {:8}  result",
            "database", "table", "scope", "contexts"
        )?;
        for t in &self.tables {
            writeln!(
                f,
                "{:dw$}  {:w$}  {:8}  {:8}  {}",
                t.database,
                t.table,
                if t.scoped { "tenant" } else { "platform" },
                t.contexts,
                if t.findings == 0 {
                    "ok".to_string()
                } else {
                    format!("{} FINDING(S)", t.findings)
                }
            )?;
        }
        if self.findings.is_empty() {
            writeln!(f, "no findings")
        } else {
            writeln!(f, "\n{} finding(s):", self.findings.len())?;
            for x in &self.findings {
                writeln!(
                    f,
                    "  {} {} [{}]: {}",
                    x.database, x.table, x.check, x.detail
                )?;
            }
            Ok(())
        }
    }
}

/// Options of the audit.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// How many tenants placed elsewhere also try to read each table (all tenants placed in the
    /// table's own placement always do).
    pub others: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { others: 20 }
    }
}

/// Runs the audit. `Err` when it cannot run (a database unreachable); findings are in the report.
pub async fn isolation(targets: &Targets, opts: Options) -> Result<Report> {
    let control = targets.connect(&Database::Control).await?;
    let all = tenant::list(&control).await?;
    let mut databases: BTreeSet<Database> = BTreeSet::from([Database::Control]);
    for t in &all {
        databases.insert(t.placement.database());
    }
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(Uuid::new_v4().as_bytes());
    key[16..].copy_from_slice(Uuid::new_v4().as_bytes());
    let kid = format!("audit-{}", &Uuid::new_v4().simple().to_string()[..12]);
    let signer = ContextSigner::new(&kid, &key)
        .map_err(|e| Error::Inconsistent(format!("the audit key: {e}")))?
        .with_ttl_secs(300);

    // The names of the databases audited: CONNECT elsewhere is a finding.
    let mut ours = Vec::new();
    for db in &databases {
        let client = targets.connect(db).await?;
        let name: String = client
            .query_one("SELECT current_database()::text", &[])
            .await
            .doing(format_args!("{db}: reading its name"))?
            .get(0);
        ours.push(name);
    }

    let mut report = Report::default();
    for db in &databases {
        let client = targets.connect(db).await?;
        client
            .execute(
                "INSERT INTO tenantgate_private.context_keys (kid, key) VALUES ($1, $2)",
                &[&kid, &key.as_slice()],
            )
            .await
            .doing(format_args!("adding the audit key to {db}"))?;
        let result = audit_database(&client, db, &all, &signer, opts, &ours, &mut report).await;
        let removed = client
            .execute(
                "DELETE FROM tenantgate_private.context_keys WHERE kid = $1",
                &[&kid],
            )
            .await;
        result?;
        removed.doing(format_args!("removing the audit key from {db}"))?;
    }
    Ok(report)
}

async fn audit_database(
    client: &Client,
    db: &Database,
    all: &[Tenant],
    signer: &ContextSigner,
    opts: Options,
    ours: &[String],
    report: &mut Report,
) -> Result<()> {
    let dbname = db.to_string();
    let finding = |table: &str, check: &'static str, detail: String| Finding {
        database: dbname.clone(),
        table: table.to_string(),
        check,
        detail,
    };
    // The application role, database-wide.
    for (check, detail) in role_findings(client, db).await? {
        report.findings.push(finding("-", check, detail));
    }
    for (check, detail) in drift::drift_findings(client, db, ours).await? {
        report.findings.push(finding("-", check, detail));
    }
    let tables = client
        .query(
            "SELECT n.nspname::text, c.relname::text, c.oid, a.attnum IS NOT NULL, c.relrowsecurity, \
                    c.relforcerowsecurity, coalesce(obj_description(c.oid, 'pg_class'), '') \
               FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace \
               LEFT JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped \
              WHERE c.relkind IN ('r', 'p') AND (n.nspname IN ('tenantgate', 'app') OR n.nspname LIKE 'tenant\\_%') \
              ORDER BY 1, 2",
            &[],
        )
        .await
        .doing(format_args!("{db}: listing tables"))?;
    for t in tables {
        let (schema, name, oid): (String, String, u32) = (t.get(0), t.get(1), t.get(2));
        let qualified = format!("{schema}.{name}");
        let before = report.findings.len();
        let scoped: bool = t.get(3);
        let mut contexts = 0;
        if !scoped {
            let comment: String = t.get(6);
            if !comment.starts_with("platform-scoped:") {
                report.findings.push(finding(
                    &qualified,
                    "scope",
                    "no tenant_id column and not marked `platform-scoped:` in its comment".into(),
                ));
            }
        } else {
            if !t.get::<_, bool>(4) {
                report.findings.push(finding(
                    &qualified,
                    "rls",
                    "row-level security is not enabled".into(),
                ));
            }
            if !t.get::<_, bool>(5) {
                report.findings.push(finding(
                    &qualified,
                    "rls-forced",
                    "row-level security is not forced".into(),
                ));
            }
            for f in catalog_findings(client, oid).await? {
                report.findings.push(finding(&qualified, f.0, f.1));
            }
            let viewers = viewers(all, db, &schema, opts.others);
            for (check, detail) in behaviour(client, &schema, &name, &viewers, signer).await? {
                report.findings.push(finding(&qualified, check, detail));
            }
            contexts = viewers.len() + 1;
        }
        report.tables.push(TableLine {
            database: db.to_string(),
            table: qualified,
            scoped,
            contexts,
            findings: report.findings.len() - before,
        });
    }
    Ok(())
}
