//! `tenantgate tenant purge SLUG | --due`: removing a deleted tenant after its grace period.
//!
//! A purge deletes the tenant's rows from its placement (its own schema is dropped; a dedicated
//! database is emptied of its rows, not dropped), then its routing entry, domains, roles,
//! memberships and invitations (by cascade from the tenant row) with the audit event
//! `tenant.purged` (rows per table) in one control-plane transaction. Platform users, who may belong
//! to other tenants, and the audit log stay. A tenant that is not deleted, or is still within its
//! grace period, is refused and nothing changes. The tenant's row is locked for the whole purge (a
//! restore waits, then finds it gone) and so is its data (no move runs at the same time). A purge
//! that stops half-way leaves the tenant deleted and can be run again.

use std::collections::BTreeMap;

use tokio_postgres::Client;
use uuid::Uuid;

use crate::db::{Database, Targets};
use crate::error::{Error, Result};
use crate::events;
use crate::placement::{forget_migrations, Placement, PlacementExt as _};
use crate::report::Doing as _;
use crate::tenant::find_locked;
use crate::tenant_data::{count_rows, delete_rows, lock_data, tenant_tables};

/// What a purge did.
#[derive(Debug, Clone)]
pub struct PurgeReport {
    /// The purged tenant's slug.
    pub slug: String,
    /// Its id (kept in the audit log, which outlives it).
    pub id: Uuid,
    /// Where its data was.
    pub placement: Placement,
    /// Table -> rows deleted.
    pub rows: BTreeMap<String, i64>,
    /// Its own schema was dropped.
    pub schema_dropped: bool,
}

/// Purges a deleted tenant whose grace period has ended: its rows in its placement (its own
/// schema dropped), then its control-plane entries (routing entry, domains, roles, memberships,
/// invitations) with a `tenant.purged` audit event in one transaction. Platform users and the
/// audit log stay. Refused, changing nothing, for a tenant that is not deleted or still within
/// its grace period. A purge that fails half-way leaves the tenant deleted and can be run again.
pub async fn purge(targets: &Targets, slug: &str) -> Result<PurgeReport> {
    let mut control = targets.connect(&Database::Control).await?;
    // The tenant's row stays locked until the end: a restore waits, then finds it gone.
    let tx = control
        .transaction()
        .await
        .doing("starting a transaction")?;
    let (tenant, due) = find_locked(&tx, slug).await?;
    if tenant.status != "deleted" {
        return Err(Error::NotDeleted {
            slug: slug.into(),
            status: tenant.status,
        });
    }
    if !due {
        return Err(Error::GracePeriodRunning {
            slug: slug.into(),
            until: tenant.purge_after.unwrap_or_default(),
        });
    }
    lock_data(&tx, &tenant).await?;
    let at = tenant.placement.clone();
    let data = targets.connect(&at.database()).await?;
    // A schema dropped by a purge that stopped before the end has no tables: nothing to delete.
    let tables = tenant_tables(&data, at.search_path()).await?;
    let rows = count_rows(&data, &at, &tables, tenant.id).await?;
    let schema_dropped = if tables.is_empty() {
        false
    } else {
        delete_rows(&data, &at, &tables, tenant.id, true).await?
    };
    if schema_dropped {
        forget_migrations(&tx, &at).await?;
    }
    tx.execute(
        "DELETE FROM tenantgate.tenants WHERE id = $1 AND status = 'deleted'",
        &[&tenant.id],
    )
    .await
    .doing(format_args!("removing tenant {slug:?}"))?;
    events::commit_with(
        tx,
        tenant.id,
        "tenant.purged",
        serde_json::json!({ "slug": slug, "placement": at.to_string(), "rows": rows }),
    )
    .await?;
    Ok(PurgeReport {
        slug: slug.to_owned(),
        id: tenant.id,
        placement: at,
        rows,
        schema_dropped,
    })
}

/// The slugs of deleted tenants whose grace period has ended, oldest first.
pub async fn purge_due(control: &Client) -> Result<Vec<String>> {
    let rows = control
        .query(
            "SELECT slug FROM tenantgate.tenants WHERE status = 'deleted' AND purge_after <= now() \
             ORDER BY purge_after, slug",
            &[],
        )
        .await
        .doing("listing tenants due for purge")?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
