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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::Path;

use anyhow::{bail, Context as _};
use sha2::{Digest, Sha256};
use tokio_postgres::Client;

use crate::db::{self, describe, ident, Database, Targets};

/// Where a file applies (its `-- tenantgate:scope` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every database: the control plane and each named target.
    Database,
    /// The control-plane database only.
    Control,
    /// Every tenant-data schema.
    Tenant,
}

impl Scope {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "database" => Some(Scope::Database),
            "control" => Some(Scope::Control),
            "tenant" => Some(Scope::Tenant),
            _ => None,
        }
    }
}

/// One migration file.
#[derive(Debug, Clone)]
pub struct Migration {
    /// `NNNN`.
    pub version: String,
    /// The file name.
    pub name: String,
    /// Where it applies.
    pub scope: Scope,
    /// The SQL text.
    pub sql: String,
    /// sha256 of the file, lower-case hex.
    pub checksum: String,
}

/// Reads `NNNN_name.sql` files from `dir`, in version order.
pub fn load(dir: &Path) -> anyhow::Result<Vec<Migration>> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("reading migrations from {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        if !name.ends_with(".sql") {
            continue;
        }
        let version = name.get(..4).unwrap_or_default();
        if !(version.len() == 4
            && version.bytes().all(|b| b.is_ascii_digit())
            && name.as_bytes().get(4) == Some(&b'_'))
        {
            bail!("{name}: migration files are named NNNN_name.sql");
        }
        let sql = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let scope = sql
            .lines()
            .find_map(|l| l.trim().strip_prefix("-- tenantgate:scope "))
            .with_context(|| {
                format!("{name}: no `-- tenantgate:scope <database|control|tenant>` line")
            })?;
        let scope = Scope::parse(scope.trim())
            .with_context(|| format!("{name}: unknown scope {:?}", scope.trim()))?;
        let checksum = hex(&Sha256::digest(sql.as_bytes()));
        out.push(Migration {
            version: version.to_string(),
            name,
            scope,
            sql,
            checksum,
        });
    }
    out.sort_by(|a, b| a.version.cmp(&b.version));
    for pair in out.windows(2) {
        if pair[0].version == pair[1].version {
            bail!(
                "{} and {} share version {}",
                pair[0].name,
                pair[1].name,
                pair[0].version
            );
        }
    }
    if out.is_empty() {
        bail!("no migrations in {}", dir.display());
    }
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A place migrations are applied to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The key recorded in `schema_migrations.placement`.
    pub key: String,
    /// Which database.
    pub database: Database,
    /// Which files.
    pub scope: Scope,
    /// `search_path` for tenant files.
    pub schema: Option<String>,
    /// Slugs of the tenants living there (tenant targets).
    pub tenants: Vec<String>,
}

impl Target {
    /// The control-plane targets.
    fn control() -> [Target; 2] {
        [
            Target::database(Database::Control),
            Target {
                key: "control".into(),
                database: Database::Control,
                scope: Scope::Control,
                schema: None,
                tenants: vec![],
            },
        ]
    }

    /// The `database`-scope target of `db`.
    pub fn database(db: Database) -> Target {
        Target {
            key: format!("database:{db}"),
            database: db,
            scope: Scope::Database,
            schema: None,
            tenants: vec![],
        }
    }

    /// The tenant-data target of a placement.
    pub fn placement(
        placement: &str,
        db: Database,
        schema: Option<String>,
    ) -> anyhow::Result<Target> {
        let (key, schema) = match (placement, &db, schema) {
            ("shared", Database::Control, None) => ("shared".to_string(), "app".to_string()),
            ("schema", _, Some(s)) if db::valid_schema_name(&s) => (format!("schema:{db}/{s}"), s),
            ("dedicated", Database::Named(n), None) => {
                (format!("dedicated:{n}"), "app".to_string())
            }
            (p, d, s) => bail!("not a valid placement: {p} in database {d} with schema {s:?}"),
        };
        Ok(Target {
            key,
            database: db,
            scope: Scope::Tenant,
            schema: Some(schema),
            tenants: vec![],
        })
    }
}

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
pub async fn run(
    targets: &Targets,
    migrations: &[Migration],
    opts: &Options,
) -> anyhow::Result<Report> {
    let control = targets.connect(&Database::Control).await?;
    // One run at a time: a session-level advisory lock on the control plane, released on disconnect.
    let locked: bool = control
        .query_one(
            "SELECT pg_try_advisory_lock(hashtext('tenantgate migrate'))",
            &[],
        )
        .await
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?
        .get(0);
    if !locked {
        bail!("another `tenantgate migrate` is running against this control plane");
    }
    let mut runner = Runner {
        targets,
        migrations,
        dry_run: opts.dry_run,
        control,
        clients: HashMap::new(),
        recorded: BTreeMap::new(),
        unrecorded: Vec::new(),
    };
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
                    error: Some(e.to_string()),
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
) -> anyhow::Result<TargetReport> {
    let control = targets.connect(&Database::Control).await?;
    let mut runner = Runner {
        targets,
        migrations,
        dry_run: false,
        control,
        clients: HashMap::new(),
        recorded: BTreeMap::new(),
        unrecorded: Vec::new(),
    };
    runner.load_records().await?;
    let r = runner.apply(target).await;
    runner.flush_records().await?;
    Ok(r)
}

/// The versions recorded for `key`, with their checksums.
pub async fn recorded(control: &Client, key: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let rows = control
        .query(
            "SELECT version, checksum FROM tenantgate.schema_migrations WHERE placement = $1",
            &[&key],
        )
        .await
        .map_err(|e| anyhow::anyhow!("reading schema_migrations: {}", describe(&e)))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Every tenant placement in the routing table, with its tenants. The shared placement is always there.
pub async fn placements(control: &Client) -> anyhow::Result<Vec<Target>> {
    let rows = control
        .query(
            "SELECT p.placement, p.database_target, p.schema_name, t.slug \
               FROM tenantgate.tenant_placements AS p JOIN tenantgate.tenants AS t ON t.id = p.tenant_id \
              ORDER BY t.slug",
            &[],
        )
        .await
        .map_err(|e| anyhow::anyhow!("reading the routing table: {}", describe(&e)))?;
    let mut by_key: BTreeMap<String, Target> = BTreeMap::new();
    let shared = Target::placement("shared", Database::Control, None)?;
    by_key.insert(shared.key.clone(), shared);
    for row in rows {
        let placement: String = row.get(0);
        let t = Target::placement(&placement, Database::from_target(row.get(1)), row.get(2))?;
        by_key
            .entry(t.key.clone())
            .or_insert(t)
            .tenants
            .push(row.get(3));
    }
    Ok(by_key.into_values().collect())
}

/// Splits placements into (selected, deferred) for a canary of `n` tenants.
fn select(placements: Vec<Target>, n: Option<usize>) -> (Vec<Target>, Vec<Target>) {
    let Some(n) = n else {
        // Everything: isolated placements first, the shared placement last.
        let (mut shared, mut isolated): (Vec<_>, Vec<_>) =
            placements.into_iter().partition(|t| t.key == "shared");
        isolated.sort_by(|a, b| a.tenants.first().cmp(&b.tenants.first()));
        isolated.append(&mut shared);
        return (isolated, vec![]);
    };
    // Tenants in rollout order: isolated placements first, then shared, each by slug.
    let mut order: Vec<(bool, String, usize)> = Vec::new();
    for (i, t) in placements.iter().enumerate() {
        for slug in &t.tenants {
            order.push((t.key == "shared", slug.clone(), i));
        }
    }
    order.sort();
    let mut chosen: Vec<usize> = Vec::new();
    for (_, _, i) in order.into_iter().take(n) {
        if !chosen.contains(&i) {
            chosen.push(i);
        }
    }
    let mut selected = Vec::new();
    let mut deferred = Vec::new();
    let mut by_index: Vec<Option<Target>> = placements.into_iter().map(Some).collect();
    for i in &chosen {
        selected.push(by_index[*i].take().expect("each index chosen once"));
    }
    deferred.extend(by_index.into_iter().flatten());
    (selected, deferred)
}

struct Runner<'a> {
    targets: &'a Targets,
    migrations: &'a [Migration],
    dry_run: bool,
    control: Client,
    clients: HashMap<Database, Client>,
    /// (target key, version) -> checksum, as recorded or applied by this run.
    recorded: BTreeMap<(String, String), String>,
    /// Applied but not yet written to schema_migrations (its table may not exist yet).
    unrecorded: Vec<(String, String, String, String)>,
}

impl Runner<'_> {
    async fn load_records(&mut self) -> anyhow::Result<()> {
        let exists: bool = self
            .control
            .query_one(
                "SELECT to_regclass('tenantgate.schema_migrations') IS NOT NULL",
                &[],
            )
            .await
            .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?
            .get(0);
        if !exists {
            return Ok(());
        }
        let rows = self
            .control
            .query(
                "SELECT placement, version, checksum FROM tenantgate.schema_migrations",
                &[],
            )
            .await
            .map_err(|e| anyhow::anyhow!("reading schema_migrations: {}", describe(&e)))?;
        for r in rows {
            self.recorded.insert((r.get(0), r.get(1)), r.get(2));
        }
        Ok(())
    }

    async fn flush_records(&mut self) -> anyhow::Result<()> {
        for (key, version, name, checksum) in std::mem::take(&mut self.unrecorded) {
            self.control
                .execute(
                    "INSERT INTO tenantgate.schema_migrations (placement, version, name, checksum) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (placement, version) \
                     DO UPDATE SET name = EXCLUDED.name, checksum = EXCLUDED.checksum, applied_at = now()",
                    &[&key, &version, &name, &checksum],
                )
                .await
                .map_err(|e| anyhow::anyhow!("recording {version} for {key}: {}", describe(&e)))?;
        }
        Ok(())
    }

    async fn client(&mut self, db: &Database) -> anyhow::Result<&Client> {
        if *db == Database::Control {
            return Ok(&self.control);
        }
        if !self.clients.contains_key(db) {
            let c = self.targets.connect(db).await?;
            self.clients.insert(db.clone(), c);
        }
        Ok(&self.clients[db])
    }

    async fn sync_keys(&mut self, db: &Database) -> anyhow::Result<()> {
        self.client(db).await?;
        db::sync_context_keys(&self.control, &self.clients[db]).await?;
        Ok(())
    }

    async fn apply(&mut self, target: &Target) -> TargetReport {
        let mut report = TargetReport {
            key: target.key.clone(),
            applied: vec![],
            up_to_date: 0,
            error: None,
        };
        let migrations = self.migrations;
        for m in migrations.iter().filter(|m| m.scope == target.scope) {
            match self.recorded.get(&(target.key.clone(), m.version.clone())) {
                Some(sum) if *sum == m.checksum => {
                    report.up_to_date += 1;
                    continue;
                }
                Some(_) => {
                    report.error = Some(format!(
                        "{} changed since it was applied here (checksum differs); add a new migration instead",
                        m.name
                    ));
                    return report;
                }
                None => {}
            }
            if self.dry_run {
                report.applied.push(m.version.clone());
                continue;
            }
            let sql = match &target.schema {
                Some(s) => format!(
                    "BEGIN;\nSET LOCAL search_path = {};\n{}\n;COMMIT;",
                    ident(s),
                    m.sql
                ),
                None => format!("BEGIN;\n{}\n;COMMIT;", m.sql),
            };
            let result = match self.client(&target.database).await {
                Ok(c) => match c.batch_execute(&sql).await {
                    Ok(()) => Ok(()),
                    Err(e) => {
                        let _ = c.batch_execute("ROLLBACK").await;
                        Err(format!("{}: {}", m.name, describe(&e)))
                    }
                },
                Err(e) => Err(format!("{e:#}")),
            };
            if let Err(e) = result {
                report.error = Some(e);
                return report;
            }
            report.applied.push(m.version.clone());
            self.recorded
                .insert((target.key.clone(), m.version.clone()), m.checksum.clone());
            self.unrecorded.push((
                target.key.clone(),
                m.version.clone(),
                m.name.clone(),
                m.checksum.clone(),
            ));
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(key: &str, tenants: &[&str]) -> Target {
        Target {
            key: key.into(),
            database: Database::Control,
            scope: Scope::Tenant,
            schema: None,
            tenants: tenants.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn keys(ts: &[Target]) -> Vec<&str> {
        ts.iter().map(|t| t.key.as_str()).collect()
    }

    #[test]
    fn the_canary_widens_in_a_stable_order_isolated_tenants_first() {
        let all = || {
            vec![
                t("shared", &["acme", "beta"]),
                t("schema:control/tenant_zed", &["zed"]),
                t("dedicated:eu", &["globex"]),
            ]
        };
        let (s, d) = select(all(), Some(1));
        assert_eq!(keys(&s), ["dedicated:eu"]);
        assert_eq!(keys(&d), ["shared", "schema:control/tenant_zed"]);
        let (s, _) = select(all(), Some(2));
        assert_eq!(keys(&s), ["dedicated:eu", "schema:control/tenant_zed"]);
        let (s, d) = select(all(), Some(3));
        assert_eq!(
            keys(&s),
            ["dedicated:eu", "schema:control/tenant_zed", "shared"]
        );
        assert!(d.is_empty());
        let (s, d) = select(all(), None);
        assert_eq!(
            keys(&s),
            ["dedicated:eu", "schema:control/tenant_zed", "shared"]
        );
        assert!(d.is_empty());
        let (s, d) = select(all(), Some(0));
        assert!(s.is_empty());
        assert_eq!(d.len(), 3);
    }

    #[test]
    fn placement_keys_name_where_the_data_is() {
        let k =
            |p, db, s: Option<&str>| Target::placement(p, db, s.map(String::from)).map(|t| t.key);
        assert_eq!(k("shared", Database::Control, None).unwrap(), "shared");
        assert_eq!(
            k("schema", Database::Control, Some("tenant_a")).unwrap(),
            "schema:control/tenant_a"
        );
        assert_eq!(
            k("schema", Database::Named("eu".into()), Some("tenant_a")).unwrap(),
            "schema:eu/tenant_a"
        );
        assert_eq!(
            k("dedicated", Database::Named("eu".into()), None).unwrap(),
            "dedicated:eu"
        );
        assert!(k("schema", Database::Control, Some("public")).is_err());
        assert!(k("dedicated", Database::Control, None).is_err());
        assert!(k("shared", Database::Named("eu".into()), None).is_err());
    }

    #[test]
    fn the_project_migrations_load_with_their_scopes() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
        let m = load(&dir).unwrap();
        assert_eq!(m[0].version, "0001");
        assert_eq!(m[0].scope, Scope::Database);
        assert!(m.iter().any(|m| m.scope == Scope::Control));
        assert!(m.iter().any(|m| m.scope == Scope::Tenant));
        assert!(m.iter().all(|m| m.checksum.len() == 64));
    }

    #[test]
    fn badly_named_or_unscoped_files_are_refused() {
        let dir = std::env::temp_dir().join(format!("tg-mig-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("01_x.sql"), "-- tenantgate:scope control\n").unwrap();
        assert!(load(&dir)
            .unwrap_err()
            .to_string()
            .contains("NNNN_name.sql"));
        std::fs::remove_file(dir.join("01_x.sql")).unwrap();
        std::fs::write(dir.join("0001_x.sql"), "SELECT 1;\n").unwrap();
        assert!(load(&dir)
            .unwrap_err()
            .to_string()
            .contains("tenantgate:scope"));
        std::fs::write(dir.join("0001_x.sql"), "-- tenantgate:scope galaxy\n").unwrap();
        assert!(load(&dir).unwrap_err().to_string().contains("galaxy"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
