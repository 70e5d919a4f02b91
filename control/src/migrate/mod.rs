//! `tenantgate migrate`: applies `migrations/` to the control plane and to every placement the routing
//! table names, records what ran where (`tenantgate.schema_migrations`), and supports a canary.
//!
//! Targets, in the order they run:
//!
//! | target key | database | scope applied | `search_path` |
//! |---|---|---|---|
//! | `database:control` | control plane | `database` | default |
//! | `control` | control plane | `control` | default |
//! | `database:<target>` | each named target a selected placement uses | `database` | default |
//! | `schema:<target or control>/<schema>`, `dedicated:<target>` | the placement's | `tenant` | the schema / `app` |
//! | `shared` | control plane | `tenant` | `app` |
//!
//! Each file runs in its own transaction; its record is written after it commits (the record lives in
//! the control plane, the file may run elsewhere; files are idempotent, so a lost record only means the
//! file runs again). A failure stops that target (its later files are not tried) and is reported; the
//! other targets go on. A file whose checksum differs from the recorded one is a failure, never re-run.
//!
//! The canary `--tenants N` migrates the control plane and the placements of the first N tenants, tenants
//! in isolated placements (schema, dedicated) first, then those in the shared placement, each group by
//! slug. The order is stable, so `--tenants 1`, `--tenants 10` and a run without the flag widen the
//! same rollout. The shared placement holds many tenants: it is migrated once any of its tenants is
//! selected, and always by a run without `--tenants`.

mod files;
mod runner;
mod target;

use std::collections::BTreeSet;
use std::fmt;

use crate::db::{Database, Targets};
use crate::error::{Error, Result};
use crate::report::Doing as _;
pub use files::{load, Migration, Scope};
use runner::Runner;
use target::select;
pub use target::{placements, recorded, Target};

/// What happened to one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetReport {
    /// The target's key.
    pub key: String,
    /// Versions applied by this run.
    pub applied: Vec<String>,
    /// Versions already recorded with the same checksum.
    pub up_to_date: usize,
    /// The failure that stopped this target.
    pub error: Option<String>,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Targets in the order they ran.
    pub targets: Vec<TargetReport>,
    /// Tenant targets left for a wider run (canary).
    pub deferred: Vec<String>,
}

impl Report {
    /// True when no target failed.
    pub fn ok(&self) -> bool {
        self.targets.iter().all(|t| t.error.is_none())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .targets
            .iter()
            .map(|t| t.key.len())
            .max()
            .unwrap_or(6)
            .max(6);
        writeln!(
            f,
            "{:width$}  {:7}  {:10}  result",
            "target", "applied", "up to date"
        )?;
        for t in &self.targets {
            let result = match &t.error {
                Some(e) => format!("FAILED: {e}"),
                None if t.applied.is_empty() => "ok".to_string(),
                None => format!("ok ({})", t.applied.join(", ")),
            };
            writeln!(
                f,
                "{:width$}  {:7}  {:10}  {result}",
                t.key,
                t.applied.len(),
                t.up_to_date
            )?;
        }
        if !self.deferred.is_empty() {
            writeln!(f, "not yet migrated (canary): {}", self.deferred.join(", "))?;
        }
        Ok(())
    }
}

/// Options of a run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Canary: only the placements of the first N tenants.
    pub tenants: Option<usize>,
    /// Show what would run, change nothing.
    pub dry_run: bool,
}

/// Runs migrations over every target. `Err` only when the run cannot start (no control plane, files
/// unreadable, another run holds the lock); per-target failures are in the report.
pub async fn run(targets: &Targets, migrations: &[Migration], opts: &Options) -> Result<Report> {
    let control = targets.connect(&Database::Control).await?;
    // One run at a time: a session-level advisory lock on the control plane, released on disconnect.
    let locked: bool = control
        .query_one(
            "SELECT pg_try_advisory_lock(hashtext('tenantgate migrate'))",
            &[],
        )
        .await
        .doing("taking the migration lock")?
        .get(0);
    if !locked {
        return Err(Error::MigrateRunning);
    }
    let mut runner = Runner::new(targets, migrations, opts.dry_run, control);
    runner.load_records().await?;

    let mut report = Report::default();
    for t in Target::control() {
        let r = runner.apply(&t).await;
        let failed = r.error.is_some();
        report.targets.push(r);
        if failed {
            // Without the control plane there is no routing table to read: stop here.
            return Ok(report);
        }
    }
    runner.load_records().await?;
    runner.flush_records().await?;

    let placements = placements(&runner.control).await?;
    let (selected, deferred) = select(placements, opts.tenants);
    report.deferred = deferred.iter().map(|t| t.key.clone()).collect();
    let databases: BTreeSet<Database> = selected
        .iter()
        .filter(|t| t.database != Database::Control)
        .map(|t| t.database.clone())
        .collect();
    let mut failed_db = BTreeSet::new();
    for db in databases {
        let r = runner.apply(&Target::database(db.clone())).await;
        if r.error.is_some() {
            failed_db.insert(db.clone());
        } else if !opts.dry_run {
            if let Err(e) = runner.sync_keys(&db).await {
                report.targets.push(TargetReport {
                    key: format!("keys:{db}"),
                    applied: vec![],
                    up_to_date: 0,
                    error: Some(crate::report(&e)),
                });
            }
        }
        report.targets.push(r);
    }
    for t in &selected {
        if failed_db.contains(&t.database) {
            report.targets.push(TargetReport {
                key: t.key.clone(),
                applied: vec![],
                up_to_date: 0,
                error: Some(format!(
                    "skipped: database {} failed its own migrations",
                    t.database
                )),
            });
            continue;
        }
        report.targets.push(runner.apply(t).await);
    }
    runner.flush_records().await?;
    Ok(report)
}

/// Applies the files of `target`'s scope to one target (a tenant is provisioned with this before its
/// routing entry exists). Records go to the control plane.
pub async fn apply_target(
    targets: &Targets,
    migrations: &[Migration],
    target: &Target,
) -> Result<TargetReport> {
    let control = targets.connect(&Database::Control).await?;
    let mut runner = Runner::new(targets, migrations, false, control);
    runner.load_records().await?;
    let r = runner.apply(target).await;
    runner.flush_records().await?;
    Ok(r)
}
