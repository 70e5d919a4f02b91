//! `tenantgate tenant suspend|reactivate|delete|restore`: a tenant's lifecycle.
//!
//! Each change is one control-plane transaction that locks the tenant's row, checks that the
//! change fits its status, updates it and writes the audit event (`tenant.suspended` with the
//! reason, `tenant.reactivated`, `tenant.deleted` with the grace period and the previous status,
//! `tenant.restored`). A change that does not fit is refused with the tenant's status and changes
//! nothing. The gateway follows within its 5-second cache bound: suspended is a 403
//! `tenant_suspended`, deleted the uniform 404. A deleted tenant's data stays for its grace period,
//! during which a restore brings it back as it was (active, or suspended); after it, only
//! `tenant purge` ([`crate::purge`]) applies.

use tokio_postgres::Client;

use crate::error::{Error, Result};
use crate::events;
use crate::report::Doing as _;
use crate::tenant::{find, find_locked, Tenant};

/// A lifecycle change an operator makes to a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lifecycle {
    /// Refuse its requests (403 `tenant_suspended`); its data, domains and members are kept.
    Suspend {
        /// Why, for the audit log.
        reason: Option<String>,
    },
    /// Serve a suspended tenant again.
    Reactivate,
    /// Delete it: its hosts answer the uniform 404 at once, its data is kept until the grace
    /// period ends (`purge_after`), and it can be restored until then.
    Delete {
        /// Days until its data may be purged (1 to 365).
        grace_days: u32,
    },
    /// Undo a deletion within its grace period: back to what it was (active, or suspended if it
    /// was suspended when deleted).
    Restore,
}

impl Lifecycle {
    /// The statuses it applies to, its audit action and the verb for messages.
    fn rule(&self) -> (&'static [&'static str], &'static str, &'static str) {
        match self {
            Lifecycle::Suspend { .. } => (&["active"], "tenant.suspended", "suspended"),
            Lifecycle::Reactivate => (&["suspended"], "tenant.reactivated", "reactivated"),
            Lifecycle::Delete { .. } => (&["active", "suspended"], "tenant.deleted", "deleted"),
            Lifecycle::Restore => (&["deleted"], "tenant.restored", "restored"),
        }
    }
}

/// Applies `change` to tenant `slug` and records it in the audit log, in one transaction; the
/// gateway follows within its cache bound. A change that does not fit the tenant's status
/// (suspending a suspended or deleted tenant, reactivating an active one, restoring after the
/// grace period) is refused with the tenant's current status and changes nothing.
pub async fn set_lifecycle(control: &mut Client, slug: &str, change: &Lifecycle) -> Result<Tenant> {
    if let Lifecycle::Delete { grace_days } = change {
        if !(1..=365).contains(grace_days) {
            return Err(Error::GracePeriodRange(*grace_days));
        }
    }
    let tx = control
        .transaction()
        .await
        .doing("starting a transaction")?;
    let (
        Tenant {
            id,
            status,
            purge_after,
            ..
        },
        grace_over,
    ) = find_locked(&tx, slug).await?;
    let (allowed, action, verb) = change.rule();
    if !allowed.contains(&status.as_str()) {
        return Err(Error::WrongStatus {
            slug: slug.into(),
            status,
            allowed,
            verb,
        });
    }
    if *change == Lifecycle::Restore && grace_over {
        return Err(Error::GracePeriodOver {
            slug: slug.into(),
            ended: purge_after.unwrap_or_default(),
        });
    }
    let (update, detail) = match change {
        Lifecycle::Suspend { reason } => (
            "UPDATE tenantgate.tenants SET status = 'suspended', suspended_at = now() WHERE id = $1",
            serde_json::json!({ "slug": slug, "reason": reason }),
        ),
        Lifecycle::Reactivate => (
            "UPDATE tenantgate.tenants SET status = 'active', suspended_at = NULL WHERE id = $1",
            serde_json::json!({ "slug": slug }),
        ),
        Lifecycle::Delete { grace_days } => (
            "UPDATE tenantgate.tenants SET status = 'deleted', deleted_at = now(), \
             purge_after = now() + make_interval(days => $2) WHERE id = $1",
            serde_json::json!({ "slug": slug, "from": status, "grace_days": grace_days }),
        ),
        // A tenant deleted while suspended keeps its suspended_at, and comes back suspended.
        Lifecycle::Restore => (
            "UPDATE tenantgate.tenants SET status = CASE WHEN suspended_at IS NULL THEN 'active' \
             ELSE 'suspended' END, deleted_at = NULL, purge_after = NULL WHERE id = $1",
            serde_json::json!({ "slug": slug }),
        ),
    };
    let days;
    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = match change {
        Lifecycle::Delete { grace_days } => {
            days = i32::try_from(*grace_days).unwrap_or(i32::MAX);
            vec![&id, &days]
        }
        _ => vec![&id],
    };
    tx.execute(update, &params)
        .await
        .doing(format_args!("updating tenant {slug:?}"))?;
    events::commit_with(tx, id, action, detail).await?;
    find(control, slug).await
}
