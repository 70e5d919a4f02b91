//! `tenantgate tenant move`: moving a tenant's data to another placement.
//!
//! A move sets the tenant read-only (backends answer writes with 503 `tenant_read_only`), waits
//! `settle` (the gateway's 5-second cache bound plus a margin) so that no gateway still routes
//! writes, copies its rows with binary COPY from one snapshot, verifies counts and checksums per
//! table, then re-checks the source under `LOCK ... IN SHARE MODE` (writers wait, readers do not)
//! and flips the routing entry only if nothing changed (`copy.rs`). After another settle period it
//! deletes the old rows (and drops an emptied tenant schema). Until the flip the old placement is
//! authoritative: every failure before it deletes what was copied and lifts read-only. One move or
//! purge of a tenant runs at a time (`tenant_data::lock_data`).
//!
//! Test hook: with [`MoveOptions::pause`] set, the move stops at the named point
//! [`PAUSE_READ_ONLY`] (read-only set and settled, nothing copied yet) until the test releases it,
//! so that a test can observe the read-only window for as long as it needs. Production runs never
//! set it (the CLI's hidden `--test-pause-dir`).

mod copy;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::db::{Database, Targets};
use crate::error::{Error, Result};
use crate::events;
use crate::migrate::Migration;
use crate::placement::{ensure_free, forget_migrations, prepare, Placement, PlacementExt as _};
use crate::report;
use crate::report::Doing as _;
use crate::tenant::find;
use crate::tenant_data::{columns, delete_rows, lock_data, tenant_tables};

/// The pause point after read-only is set and the settle period has passed, before the copy.
pub const PAUSE_READ_ONLY: &str = "move-read-only";
/// How long a paused move waits to be released before it fails (and is undone).
const PAUSE_LIMIT: Duration = Duration::from_secs(120);

/// Options of a move.
#[derive(Debug, Clone)]
pub struct MoveOptions {
    /// How long gateways may keep serving a cached routing entry (their cache bound plus a margin):
    /// waited after setting read-only and again after the flip.
    pub settle: Duration,
    /// Test only: a directory where the move announces each pause point `P` by creating
    /// `P.reached`, then waits until `P.resume` exists (at most two minutes, else the move fails
    /// and is undone). `None` (always, outside tests) never pauses.
    pub pause: Option<PathBuf>,
}

/// What a move did.
#[derive(Debug, Clone)]
pub struct MoveReport {
    /// From.
    pub from: Placement,
    /// To.
    pub to: Placement,
    /// Table -> (rows, checksum) copied and verified.
    pub tables: Vec<(String, i64, String)>,
    /// Set when the move is done but deleting the old rows failed (they are no longer routed to).
    pub cleanup_error: Option<String>,
}

/// Moves tenant `slug` to `to`. Refused for a deleted tenant, a tenant already there, a
/// placement another tenant uses, and while another move or purge of the tenant runs; fails,
/// undone, when the destination's tables differ from the source's or the copy does not verify.
pub async fn move_tenant(
    targets: &Targets,
    migrations: &[Migration],
    slug: &str,
    to: &Placement,
    opts: MoveOptions,
) -> Result<MoveReport> {
    let control = targets.connect(&Database::Control).await?;
    let tenant = find(&control, slug).await?;
    if tenant.status == "deleted" {
        return Err(Error::TenantDeleted {
            slug: slug.into(),
            refused: "a deleted tenant is not moved",
        });
    }
    if tenant.placement == *to {
        return Err(Error::AlreadyPlaced {
            slug: slug.into(),
            placement: to.to_string(),
        });
    }
    let from = tenant.placement.clone();
    lock_data(&control, &tenant).await?;
    ensure_free(&control, to, Some(tenant.id)).await?;
    prepare(targets, migrations, &control, to).await?;

    let src = targets.connect(&from.database()).await?;
    let dst = targets.connect(&to.database()).await?;
    let tables = tenant_tables(&src, from.search_path()).await?;
    for t in &tables {
        let a = columns(&src, from.search_path(), t).await?;
        let b = columns(&dst, to.search_path(), t).await?;
        if a != b {
            return Err(Error::SchemaDiffers {
                table: t.clone(),
                from: from.to_string(),
                to: to.to_string(),
                source_columns: a,
                destination_columns: b,
            });
        }
    }

    let mv = copy::Move {
        control: &control,
        src: &src,
        dst: &dst,
        from: &from,
        to,
        tables: &tables,
        tenant: tenant.id,
    };
    mv.set_read_only().await?;
    tokio::time::sleep(opts.settle).await;
    let copied = async {
        pause_at(opts.pause.as_deref(), PAUSE_READ_ONLY).await?;
        let copied = mv.copy().await?;
        mv.flip(&copied).await?;
        Ok(copied)
    }
    .await;
    let copied = match copied {
        Ok(copied) => copied,
        Err(e) => return Err(mv.abort(e).await),
    };
    events::record(
        &control,
        tenant.id,
        "tenant.moved",
        serde_json::json!({
            "from": from.to_string(), "to": to.to_string(),
            "rows": copied.iter().map(|(t, n, _)| (t.clone(), *n)).collect::<BTreeMap<_, _>>(),
        }),
    )
    .await?;

    // Gateways may still route to the old placement (read-only) until their caches expire.
    tokio::time::sleep(opts.settle).await;
    let cleanup_error = match delete_rows(&src, &from, &tables, tenant.id, true).await {
        Ok(true) => forget_migrations(&control, &from)
            .await
            .err()
            .map(|e| report(&e)),
        Ok(false) => None,
        Err(e) => Some(report(&e)),
    };
    Ok(MoveReport {
        from,
        to: to.clone(),
        tables: copied,
        cleanup_error,
    })
}

/// The test hook: with a pause directory, announces `point` (`<dir>/<point>.reached`) and waits
/// until `<dir>/<point>.resume` exists.
async fn pause_at(dir: Option<&Path>, point: &str) -> Result<()> {
    let Some(dir) = dir else {
        return Ok(());
    };
    let reached = dir.join(format!("{point}.reached"));
    std::fs::write(&reached, b"").doing(format_args!("writing {}", reached.display()))?;
    let resume = dir.join(format!("{point}.resume"));
    let deadline = Instant::now() + PAUSE_LIMIT;
    while !resume.exists() {
        if Instant::now() > deadline {
            return Err(Error::PauseTimedOut(resume));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}
