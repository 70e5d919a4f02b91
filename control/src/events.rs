//! The audit-event insert every command uses: one platform-admin row in `tenantgate.audit_log`,
//! written in the transaction of the change it records ([`commit_with`]) where there is one.

use tokio_postgres::{GenericClient, Transaction};
use uuid::Uuid;

use crate::error::Result;
use crate::report::Doing as _;

/// Appends a platform-admin event about `tenant` to the audit log, on `client` (inside the
/// caller's transaction when it is one, so the event commits or rolls back with the change).
pub(crate) async fn record(
    client: &impl GenericClient,
    tenant: Uuid,
    action: &str,
    detail: serde_json::Value,
) -> Result<()> {
    client
        .execute(
            "INSERT INTO tenantgate.audit_log (tenant_id, actor_kind, action, target, detail) \
             VALUES ($1, 'platform_admin', $2, $3, $4)",
            &[&tenant, &action, &tenant.to_string(), &detail],
        )
        .await
        .doing("audit log")?;
    Ok(())
}

/// Appends a platform-admin event that concerns no single tenant (`tenant_id` NULL: invisible to
/// every tenant), such as a plan change.
pub(crate) async fn record_platform(
    client: &impl GenericClient,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) -> Result<()> {
    client
        .execute(
            "INSERT INTO tenantgate.audit_log (tenant_id, actor_kind, action, target, detail) \
             VALUES (NULL, 'platform_admin', $1, $2, $3)",
            &[&action, &target, &detail],
        )
        .await
        .doing("audit log")?;
    Ok(())
}

/// Records `action` in `tx` and commits it: the change and its audit event take effect together
/// or not at all.
pub(crate) async fn commit_with(
    tx: Transaction<'_>,
    tenant: Uuid,
    action: &str,
    detail: serde_json::Value,
) -> Result<()> {
    record(&tx, tenant, action, detail).await?;
    tx.commit().await.doing(format_args!("committing {action}"))
}
