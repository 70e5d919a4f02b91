//! Tenant lookup: the one place a tenant and its routing entry are read from the control plane.
//!
//! [`find`] and [`list`] read without locks; `find_locked` locks the tenant's row until the
//! caller's transaction ends, so a lifecycle change or a purge decides on a status nobody else can
//! change underneath it.

use tokio_postgres::{Client, GenericClient, Row, Transaction};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::placement::Placement;
use crate::report::Doing as _;

/// A tenant and its routing entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// Id.
    pub id: Uuid,
    /// Slug (its subdomain).
    pub slug: String,
    /// Display name.
    pub name: String,
    /// active, suspended or deleted.
    pub status: String,
    /// Plan id.
    pub plan: String,
    /// Where its data lives.
    pub placement: Placement,
    /// Set while it moves.
    pub read_only: bool,
    /// When a deleted tenant's data may be purged (UTC), until which it can be restored.
    pub purge_after: Option<String>,
}

/// The columns [`from_row`] reads (`t` the tenant, `p` its placement).
macro_rules! tenant_columns {
    () => {
        "t.id, t.slug, t.name, t.status, t.plan, p.placement, p.database_target, p.schema_name, \
         p.read_only, to_char(t.purge_after AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"')"
    };
}
/// The tenants with their placements, for a `WHERE` to follow.
macro_rules! tenant_from {
    () => {
        " FROM tenantgate.tenants AS t JOIN tenantgate.tenant_placements AS p ON p.tenant_id = t.id"
    };
}
const TENANT_SELECT: &str = concat!("SELECT ", tenant_columns!(), tenant_from!());

fn from_row(r: &Row) -> Result<Tenant> {
    Ok(Tenant {
        id: r.get(0),
        slug: r.get(1),
        name: r.get(2),
        status: r.get(3),
        plan: r.get(4),
        placement: crate::placement::from_row(r.get::<_, &str>(5), r.get(6), r.get(7))?,
        read_only: r.get(8),
        purge_after: r.get(9),
    })
}

/// Every tenant, by slug.
pub async fn list(control: &Client) -> Result<Vec<Tenant>> {
    let rows = control
        .query(&format!("{TENANT_SELECT} ORDER BY t.slug"), &[])
        .await
        .doing("listing tenants")?;
    rows.iter().map(from_row).collect()
}

/// One tenant by slug; [`Error::UnknownTenant`] when there is none.
pub async fn find(control: &impl GenericClient, slug: &str) -> Result<Tenant> {
    let row = control
        .query_opt(&format!("{TENANT_SELECT} WHERE t.slug = $1"), &[&slug])
        .await
        .doing(format_args!("reading tenant {slug:?}"))?
        .ok_or_else(|| Error::UnknownTenant { slug: slug.into() })?;
    from_row(&row)
}

/// Tenant `slug`, its row locked until `tx` ends, and whether it is deleted and past its grace
/// period.
pub(crate) async fn find_locked(tx: &Transaction<'_>, slug: &str) -> Result<(Tenant, bool)> {
    let row = tx
        .query_opt(
            concat!(
                "SELECT ",
                tenant_columns!(),
                ", t.purge_after IS NOT NULL AND t.purge_after <= now()",
                tenant_from!(),
                " WHERE t.slug = $1 FOR UPDATE OF t"
            ),
            &[&slug],
        )
        .await
        .doing(format_args!("reading tenant {slug:?}"))?
        .ok_or_else(|| Error::UnknownTenant { slug: slug.into() })?;
    Ok((from_row(&row)?, row.get(10)))
}

/// A tenant that may still change: refused with [`Error::TenantDeleted`] (saying what `refused`)
/// when it is deleted.
pub(crate) async fn find_live(
    control: &Client,
    slug: &str,
    refused: &'static str,
) -> Result<Tenant> {
    let tenant = find(control, slug).await?;
    if tenant.status == "deleted" {
        return Err(Error::TenantDeleted {
            slug: slug.into(),
            refused,
        });
    }
    Ok(tenant)
}
