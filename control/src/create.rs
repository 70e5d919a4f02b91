//! `tenantgate tenant create|list|show`: provisioning a tenant, and what the control plane knows
//! about it.
//!
//! `create` prepares the placement first (schema or database migrated, context keys copied), then
//! registers the tenant, its routing entry and its built-in roles with a `tenant.created` audit event
//! in one control-plane transaction: a failure leaves no half-registered tenant (a prepared, empty
//! placement may stay; preparing is idempotent). `list` is [`crate::tenant::list`].

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::contract::valid_slug;
use crate::db::{Database, Targets};
use crate::error::{Error, Result};
use crate::events;
use crate::migrate::Migration;
use crate::placement::{ensure_free, prepare, Placement, PlacementExt as _};
use crate::report::Doing as _;
use crate::tenant::{find, Tenant};
use crate::tenant_data::{count_rows, tenant_tables};

/// A new tenant.
#[derive(Debug, Clone)]
pub struct NewTenant {
    /// DNS label.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Plan id (`free`, `pro`, `enterprise`).
    pub plan: String,
    /// Where its data goes.
    pub placement: Placement,
}

/// Provisions a tenant: prepares its placement (schema or database migrated, keys copied), then
/// registers it with its routing entry and built-in roles in one control-plane transaction.
pub async fn create(
    targets: &Targets,
    migrations: &[Migration],
    new: &NewTenant,
) -> Result<Tenant> {
    let slug = || new.slug.clone();
    if !valid_slug(&new.slug) {
        return Err(Error::InvalidSlug { slug: slug() });
    }
    let mut control = targets.connect(&Database::Control).await?;
    if find(&control, &new.slug).await.is_ok() {
        return Err(Error::SlugTaken { slug: slug() });
    }
    ensure_free(&control, &new.placement, None).await?;
    prepare(targets, migrations, &control, &new.placement).await?;

    let tx = control
        .transaction()
        .await
        .doing("starting a transaction")?;
    let (placement, target, schema) = new.placement.columns();
    let id: Uuid = tx
        .query_one(
            "INSERT INTO tenantgate.tenants (slug, name, plan) VALUES ($1, $2, $3) RETURNING id",
            &[&new.slug, &new.name, &new.plan],
        )
        .await
        .map_err(|e| refusal(e, &new.slug))?
        .get(0);
    tx.execute(
        "INSERT INTO tenantgate.tenant_placements (tenant_id, placement, database_target, schema_name) \
         VALUES ($1, $2, $3, $4)",
        &[&id, &placement, &target, &schema],
    )
    .await
    .doing("routing entry")?;
    // The system roles (owner, admin, member) and their permissions, as migration 0010 defines them.
    tx.execute("SELECT tenantgate.seed_system_roles($1)", &[&id])
        .await
        .doing("system roles")?;
    let placed = new.placement.to_string();
    events::commit_with(
        tx,
        id,
        "tenant.created",
        serde_json::json!({ "slug": new.slug, "plan": new.plan, "placement": placed }),
    )
    .await?;
    find(&control, &new.slug).await
}

/// The refusal a failed tenant insert stands for, by the constraint it broke.
fn refusal(e: tokio_postgres::Error, slug: &str) -> Error {
    let slug = slug.to_string();
    match e.as_db_error().and_then(|d| d.constraint()) {
        Some("tenants_slug_not_reserved") => Error::SlugReserved { slug },
        Some("tenants_slug_key") => Error::SlugTaken { slug },
        Some("tenants_plan_fkey") => Error::UnknownPlan,
        Some("tenants_name_present") => Error::InvalidName,
        _ => Error::Postgres {
            doing: format!("creating tenant {slug:?}"),
            source: e,
        },
    }
}

/// A tenant with the row counts of its data.
#[derive(Debug, Clone)]
pub struct TenantDetail {
    /// The tenant.
    pub tenant: Tenant,
    /// Table -> rows of this tenant in its placement.
    pub rows: BTreeMap<String, i64>,
    /// Custom domains: (domain, verified, revoked).
    pub domains: Vec<(String, bool, bool)>,
    /// Members.
    pub members: i64,
}

/// `tenant show`: the tenant, its rows per table in its placement, its domains and members.
pub async fn show(targets: &Targets, slug: &str) -> Result<TenantDetail> {
    let control = targets.connect(&Database::Control).await?;
    let tenant = find(&control, slug).await?;
    let at = &tenant.placement;
    let data = targets.connect(&at.database()).await?;
    let tables = tenant_tables(&data, at.search_path()).await?;
    let rows = count_rows(&data, at, &tables, tenant.id).await?;
    let domains = control
        .query(
            "SELECT domain, verified_at IS NOT NULL, revoked_at IS NOT NULL FROM tenantgate.tenant_domains \
              WHERE tenant_id = $1 ORDER BY domain",
            &[&tenant.id],
        )
        .await
        .doing("reading domains")?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let members: i64 = control
        .query_one(
            "SELECT count(*) FROM tenantgate.memberships WHERE tenant_id = $1",
            &[&tenant.id],
        )
        .await
        .doing("counting members")?
        .get(0);
    Ok(TenantDetail {
        tenant,
        rows,
        domains,
        members,
    })
}
