//! Applying migration files to targets: each file in its own transaction (with the target's
//! `search_path`), recorded in the control plane after it commits; a file whose recorded checksum
//! differs is a failure, never re-run. A failure stops its target and is reported in the target's
//! [`TargetReport`]; it is not an `Err`.

use std::collections::{BTreeMap, HashMap};

use tokio_postgres::Client;

use super::{Migration, Target, TargetReport};
use crate::db::{self, ident, Database, Targets};
use crate::error::Result;
use crate::report::{describe, Doing as _};

pub(crate) struct Runner<'a> {
    targets: &'a Targets,
    migrations: &'a [Migration],
    dry_run: bool,
    pub(crate) control: Client,
    clients: HashMap<Database, Client>,
    /// (target key, version) -> checksum, as recorded or applied by this run.
    recorded: BTreeMap<(String, String), String>,
    /// Applied but not yet written to schema_migrations (its table may not exist yet).
    unrecorded: Vec<(String, String, String, String)>,
}

impl<'a> Runner<'a> {
    /// A runner on `control` that has recorded nothing yet.
    pub(crate) fn new(
        targets: &'a Targets,
        migrations: &'a [Migration],
        dry_run: bool,
        control: Client,
    ) -> Self {
        Runner {
            targets,
            migrations,
            dry_run,
            control,
            clients: HashMap::new(),
            recorded: BTreeMap::new(),
            unrecorded: Vec::new(),
        }
    }

    pub(crate) async fn load_records(&mut self) -> Result<()> {
        let exists: bool = self
            .control
            .query_one(
                "SELECT to_regclass('tenantgate.schema_migrations') IS NOT NULL",
                &[],
            )
            .await
            .doing("looking for schema_migrations")?
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
            .doing("reading schema_migrations")?;
        for r in rows {
            self.recorded.insert((r.get(0), r.get(1)), r.get(2));
        }
        Ok(())
    }

    pub(crate) async fn flush_records(&mut self) -> Result<()> {
        for (key, version, name, checksum) in std::mem::take(&mut self.unrecorded) {
            self.control
                .execute(
                    "INSERT INTO tenantgate.schema_migrations (placement, version, name, checksum) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (placement, version) \
                     DO UPDATE SET name = EXCLUDED.name, checksum = EXCLUDED.checksum, applied_at = now()",
                    &[&key, &version, &name, &checksum],
                )
                .await
                .doing(format_args!("recording {version} for {key}"))?;
        }
        Ok(())
    }

    async fn client(&mut self, db: &Database) -> Result<&Client> {
        if *db == Database::Control {
            return Ok(&self.control);
        }
        if !self.clients.contains_key(db) {
            let c = self.targets.connect(db).await?;
            self.clients.insert(db.clone(), c);
        }
        Ok(&self.clients[db])
    }

    pub(crate) async fn sync_keys(&mut self, db: &Database) -> Result<()> {
        self.client(db).await?;
        db::sync_context_keys(&self.control, &self.clients[db]).await?;
        Ok(())
    }

    pub(crate) async fn apply(&mut self, target: &Target) -> TargetReport {
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
                Err(e) => Err(crate::report(&e)),
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
