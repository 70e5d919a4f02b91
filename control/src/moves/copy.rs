//! The steps of a move between its checks and its clean-up: read-only on, the verified copy, the
//! guarded flip of the routing entry, and the undo of a move that failed before its flip.
//!
//! The copy reads the source from one snapshot and writes the destination in one transaction that
//! commits only when every table's count and checksum agree. The flip holds writers back
//! (`LOCK ... IN SHARE MODE` on the source tables), re-checks that the source is still what was
//! copied, and only then points the routing entry at the destination and lifts read-only.

use futures::{SinkExt as _, StreamExt as _};
use tokio_postgres::Client;
use uuid::Uuid;

use crate::db::ident;
use crate::error::{Error, Result};
use crate::events;
use crate::placement::Placement;
use crate::report;
use crate::report::Doing as _;
use crate::tenant_data::{checksum, columns, delete_in_transaction, delete_rows};

/// (table, rows, checksum) of each table copied, parents first.
pub(super) type Copied = Vec<(String, i64, String)>;

/// One move in progress: the connections and what moves where.
pub(super) struct Move<'a> {
    /// The control plane.
    pub control: &'a Client,
    /// The source placement's database.
    pub src: &'a Client,
    /// The destination placement's database.
    pub dst: &'a Client,
    /// Where the data is.
    pub from: &'a Placement,
    /// Where it goes.
    pub to: &'a Placement,
    /// The tenant tables, parents first.
    pub tables: &'a [String],
    /// The tenant.
    pub tenant: Uuid,
}

impl Move<'_> {
    /// Marks the tenant read-only and writes `tenant.move_started`.
    pub async fn set_read_only(&self) -> Result<()> {
        self.control
            .execute(
                "UPDATE tenantgate.tenant_placements SET read_only = true WHERE tenant_id = $1",
                &[&self.tenant],
            )
            .await
            .doing("setting read-only")?;
        events::record(
            self.control,
            self.tenant,
            "tenant.move_started",
            serde_json::json!({ "from": self.from.to_string(), "to": self.to.to_string() }),
        )
        .await
    }

    /// Copies the tenant's rows table by table (binary COPY), from a consistent snapshot of the
    /// source, into one destination transaction that commits only when every table's count and
    /// checksum agree.
    pub async fn copy(&self) -> Result<Copied> {
        let (src, dst) = (self.src, self.dst);
        src.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .doing("starting the source snapshot")?;
        dst.batch_execute("BEGIN")
            .await
            .doing("starting the copy")?;
        let result = self.copy_tables().await;
        let _ = src.batch_execute("COMMIT").await;
        match result {
            Ok(sums) => {
                dst.batch_execute("COMMIT")
                    .await
                    .doing("committing the copy")?;
                Ok(sums)
            }
            Err(e) => {
                let _ = dst.batch_execute("ROLLBACK").await;
                Err(e)
            }
        }
    }

    async fn copy_tables(&self) -> Result<Copied> {
        let (src, dst, from, to, tenant) = (self.src, self.dst, self.from, self.to, self.tenant);
        // Left-overs of an earlier failed move are not authoritative: start clean.
        delete_in_transaction(dst, to, self.tables, tenant).await?;
        let mut sums = Vec::new();
        for t in self.tables {
            let cols = columns(src, from.search_path(), t).await?;
            let list = cols
                .iter()
                .map(|(c, _)| ident(c))
                .collect::<Vec<_>>()
                .join(", ");
            let out = src
                .copy_out(&format!(
                    "COPY (SELECT {list} FROM {}.{} WHERE tenant_id = '{tenant}') TO STDOUT (FORMAT binary)",
                    ident(from.search_path()),
                    ident(t)
                ))
                .await
                .doing(format_args!("reading {t} from {from}"))?;
            let sink = dst
                .copy_in(&format!(
                    "COPY {}.{} ({list}) FROM STDIN (FORMAT binary)",
                    ident(to.search_path()),
                    ident(t)
                ))
                .await
                .doing(format_args!("writing {t} to {to}"))?;
            futures::pin_mut!(out);
            futures::pin_mut!(sink);
            while let Some(chunk) = out.next().await {
                let chunk = chunk.doing(format_args!("reading {t}"))?;
                sink.send(chunk).await.doing(format_args!("writing {t}"))?;
            }
            sink.as_mut()
                .finish()
                .await
                .doing(format_args!("writing {t}"))?;
            let a = checksum(src, from.search_path(), t, tenant).await?;
            let b = checksum(dst, to.search_path(), t, tenant).await?;
            if a != b {
                return Err(Error::CopyMismatch {
                    table: t.clone(),
                    copied: a,
                    found: b,
                });
            }
            sums.push((t.clone(), a.0, a.1));
        }
        Ok(sums)
    }

    /// The guard: writers held back, the source must still be what was copied; then the routing
    /// entry names the destination and read-only is lifted, committed with the source's lock.
    pub async fn flip(&self, copied: &Copied) -> Result<()> {
        let src = self.src;
        src.batch_execute("BEGIN")
            .await
            .doing("starting the flip")?;
        let result = async {
            let lock = format!(
                "LOCK TABLE {} IN SHARE MODE",
                self.tables
                    .iter()
                    .map(|t| format!("{}.{}", ident(self.from.search_path()), ident(t)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            src.batch_execute(&lock)
                .await
                .doing("holding writers back")?;
            for (t, rows, sum) in copied {
                let now = checksum(src, self.from.search_path(), t, self.tenant).await?;
                if now != (*rows, sum.clone()) {
                    return Err(Error::WrittenDuringMove {
                        table: t.clone(),
                        copied: *rows,
                        now: now.0,
                    });
                }
            }
            let (p, target, schema) = self.to.columns();
            self.control
                .execute(
                    "UPDATE tenantgate.tenant_placements SET placement = $2, database_target = $3, \
                     schema_name = $4, read_only = false WHERE tenant_id = $1",
                    &[&self.tenant, &p, &target, &schema],
                )
                .await
                .doing("flipping the routing entry")?;
            src.batch_execute("COMMIT")
                .await
                .doing("releasing the source")
        }
        .await;
        if result.is_err() {
            let _ = src.batch_execute("ROLLBACK").await;
        }
        result
    }

    /// Undoes a move that failed before its flip: the copy is deleted, read-only lifted, the
    /// failure audited (`tenant.move_failed`). Returns the error to report.
    pub async fn abort(&self, cause: Error) -> Error {
        let _ = self.dst.batch_execute("ROLLBACK").await;
        // The destination schema stays (empty) with its migration records: a retry reuses it.
        let cleanup = delete_rows(self.dst, self.to, self.tables, self.tenant, false).await;
        let lifted = self
            .control
            .execute(
                "UPDATE tenantgate.tenant_placements SET read_only = false WHERE tenant_id = $1",
                &[&self.tenant],
            )
            .await
            .doing("lifting read-only");
        let _ = events::record(
            self.control,
            self.tenant,
            "tenant.move_failed",
            serde_json::json!({ "to": self.to.to_string(), "error": report(&cause) }),
        )
        .await;
        let mut notes = Vec::new();
        if let Err(e) = cleanup {
            notes.push(format!(
                "the partial copy in {} could not be deleted: {}",
                self.to,
                report(&e)
            ));
        }
        if let Err(e) = lifted {
            notes.push(format!("read-only could not be lifted: {}", report(&e)));
        }
        Error::MoveFailed {
            cleanup: notes,
            cause: Box::new(cause),
        }
    }
}
