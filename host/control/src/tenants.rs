//! `tenantgate tenant create|list|show|move`.
//!
//! A move copies the tenant's rows to the new placement while the tenant is read-only, verifies counts
//! and checksums, re-checks the source under a lock that holds writers back, flips the routing entry,
//! waits for the gateway's caches to see the flip, and only then deletes the old rows. Until the flip the
//! old placement is authoritative: every failure before it deletes what was copied and lifts read-only.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use anyhow::{bail, Context as _};
use futures::{SinkExt as _, StreamExt as _};
use tokio_postgres::Client;
use uuid::Uuid;

use crate::db::{self, describe, ident, Database, Targets};
use crate::migrate::{self, Migration, Target};

/// Where a tenant's data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlacementSpec {
    /// Schema `app` of the control-plane database, with every other shared tenant.
    Shared,
    /// A schema of its own in `database`.
    Schema {
        /// The database holding the schema.
        database: Database,
        /// `tenant_*`.
        schema: String,
    },
    /// Schema `app` of a database of its own.
    Dedicated {
        /// The named target.
        database: String,
    },
}

impl PlacementSpec {
    /// From the command line: `kind` is shared|schema|dedicated; a schema placement defaults to
    /// `tenant_<slug>` in the control-plane database.
    pub fn parse(
        kind: &str,
        target: Option<&str>,
        schema: Option<&str>,
        slug: &str,
    ) -> anyhow::Result<Self> {
        match kind {
            "shared" => {
                if target.is_some() || schema.is_some() {
                    bail!("the shared placement takes neither --database nor --schema");
                }
                Ok(PlacementSpec::Shared)
            }
            "schema" => {
                let schema = schema
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("tenant_{}", slug.replace('-', "_")));
                if !db::valid_schema_name(&schema) {
                    bail!("schema {schema:?} must match ^tenant_[a-z0-9_]{{1,56}}$");
                }
                Ok(PlacementSpec::Schema {
                    database: Database::from_target(target.map(str::to_string)),
                    schema,
                })
            }
            "dedicated" => {
                if schema.is_some() {
                    bail!("a dedicated placement uses schema app; --schema does not apply");
                }
                let database =
                    target.context("a dedicated placement needs --database <target name>")?;
                Ok(PlacementSpec::Dedicated {
                    database: database.to_string(),
                })
            }
            other => bail!("placement {other:?} is not one of shared, schema, dedicated"),
        }
    }

    fn from_row(
        placement: &str,
        target: Option<String>,
        schema: Option<String>,
    ) -> anyhow::Result<Self> {
        Ok(match (placement, target, schema) {
            ("shared", None, None) => PlacementSpec::Shared,
            ("schema", t, Some(s)) => PlacementSpec::Schema {
                database: Database::from_target(t),
                schema: s,
            },
            ("dedicated", Some(t), None) => PlacementSpec::Dedicated { database: t },
            (p, t, s) => bail!("routing table holds an invalid placement: {p} {t:?} {s:?}"),
        })
    }

    /// `placement`, `database_target`, `schema_name` as the routing table stores them.
    fn columns(&self) -> (&'static str, Option<String>, Option<String>) {
        match self {
            PlacementSpec::Shared => ("shared", None, None),
            PlacementSpec::Schema { database, schema } => (
                "schema",
                database.target().map(str::to_string),
                Some(schema.clone()),
            ),
            PlacementSpec::Dedicated { database } => ("dedicated", Some(database.clone()), None),
        }
    }

    /// The database holding the data.
    pub fn database(&self) -> Database {
        match self {
            PlacementSpec::Shared => Database::Control,
            PlacementSpec::Schema { database, .. } => database.clone(),
            PlacementSpec::Dedicated { database } => Database::Named(database.clone()),
        }
    }

    /// The schema holding the data.
    pub fn schema(&self) -> &str {
        match self {
            PlacementSpec::Schema { schema, .. } => schema,
            _ => "app",
        }
    }

    /// The migration target of this placement.
    pub fn target(&self) -> Target {
        let (p, _, s) = self.columns();
        Target::placement(p, self.database(), s)
            .expect("a PlacementSpec is always a valid placement")
    }
}

impl fmt::Display for PlacementSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.target().key)
    }
}

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
    pub placement: PlacementSpec,
    /// Set while it moves.
    pub read_only: bool,
    /// When a deleted tenant's data may be purged (UTC), until which it can be restored.
    pub purge_after: Option<String>,
}

/// The columns [`tenant_from_row`] reads (`t` the tenant, `p` its placement).
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

fn tenant_from_row(r: &tokio_postgres::Row) -> anyhow::Result<Tenant> {
    Ok(Tenant {
        id: r.get(0),
        slug: r.get(1),
        name: r.get(2),
        status: r.get(3),
        plan: r.get(4),
        placement: PlacementSpec::from_row(r.get::<_, &str>(5), r.get(6), r.get(7))?,
        read_only: r.get(8),
        purge_after: r.get(9),
    })
}

/// Every tenant, by slug.
pub async fn list(control: &Client) -> anyhow::Result<Vec<Tenant>> {
    let rows = control
        .query(&format!("{TENANT_SELECT} ORDER BY t.slug"), &[])
        .await
        .map_err(|e| anyhow::anyhow!("listing tenants: {}", describe(&e)))?;
    rows.iter().map(tenant_from_row).collect()
}

/// One tenant by slug.
pub async fn find(control: &Client, slug: &str) -> anyhow::Result<Tenant> {
    let row = control
        .query_opt(&format!("{TENANT_SELECT} WHERE t.slug = $1"), &[&slug])
        .await
        .map_err(|e| anyhow::anyhow!("reading tenant {slug:?}: {}", describe(&e)))?
        .with_context(|| format!("no tenant with slug {slug:?}"))?;
    tenant_from_row(&row)
}

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
    pub placement: PlacementSpec,
}

/// Built-in roles and their permissions, as every tenant starts.
const BUILT_IN_ROLES: &[(&str, &str, &[&str])] = &[
    (
        "admin",
        "Manages the organisation",
        &["tasks.read", "tasks.write", "members.manage"],
    ),
    (
        "member",
        "Works on projects and tasks",
        &["tasks.read", "tasks.write"],
    ),
];

/// Provisions a tenant: prepares its placement (schema or database migrated, keys copied), then
/// registers it with its routing entry and built-in roles in one control-plane transaction.
pub async fn create(
    targets: &Targets,
    migrations: &[Migration],
    new: &NewTenant,
) -> anyhow::Result<Tenant> {
    if !valid_slug(&new.slug) {
        bail!(
            "slug {:?} must be a DNS label: lower-case a-z, 0-9 and '-', 1 to 63 characters, not starting or ending with '-'",
            new.slug
        );
    }
    let mut control = targets.connect(&Database::Control).await?;
    if find(&control, &new.slug).await.is_ok() {
        bail!("a tenant with slug {:?} already exists", new.slug);
    }
    ensure_free(&control, &new.placement, None).await?;
    prepare(targets, migrations, &control, &new.placement).await?;

    let tx = control.transaction().await?;
    let (placement, target, schema) = new.placement.columns();
    let id: Uuid = tx
        .query_one(
            "INSERT INTO tenantgate.tenants (slug, name, plan) VALUES ($1, $2, $3) RETURNING id",
            &[&new.slug, &new.name, &new.plan],
        )
        .await
        .map_err(|e| anyhow::anyhow!("{}", friendly(&e, &new.slug)))?
        .get(0);
    tx.execute(
        "INSERT INTO tenantgate.tenant_placements (tenant_id, placement, database_target, schema_name) \
         VALUES ($1, $2, $3, $4)",
        &[&id, &placement, &target, &schema],
    )
    .await
    .map_err(|e| anyhow::anyhow!("routing entry: {}", describe(&e)))?;
    for (role, description, perms) in BUILT_IN_ROLES {
        tx.execute(
            "INSERT INTO tenantgate.roles (tenant_id, name, built_in, description) VALUES ($1, $2, true, $3)",
            &[&id, role, description],
        )
        .await?;
        for p in *perms {
            tx.execute(
                "INSERT INTO tenantgate.role_permissions (tenant_id, role_name, permission) VALUES ($1, $2, $3)",
                &[&id, role, p],
            )
            .await?;
        }
    }
    audit(
        &tx,
        id,
        "tenant.created",
        serde_json::json!({ "slug": new.slug, "plan": new.plan, "placement": new.placement.to_string() }),
    )
    .await?;
    tx.commit()
        .await
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    find(&control, &new.slug).await
}

fn valid_slug(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

fn friendly(e: &tokio_postgres::Error, slug: &str) -> String {
    match e.as_db_error().and_then(|d| d.constraint()) {
        Some("tenants_slug_not_reserved") => {
            format!("slug {slug:?} is reserved (www, api, admin, app, ...)")
        }
        Some("tenants_slug_key") => format!("a tenant with slug {slug:?} already exists"),
        Some("tenants_plan_fkey") => "no such plan (free, pro, enterprise)".to_string(),
        Some("tenants_name_present") => "the name must be 1 to 200 characters".to_string(),
        _ => describe(e),
    }
}

/// Appends a platform-admin event about `tenant` to the audit log, on `client` (inside the
/// caller's transaction when it is one).
pub(crate) async fn audit(
    client: &impl tokio_postgres::GenericClient,
    tenant: Uuid,
    action: &str,
    detail: serde_json::Value,
) -> anyhow::Result<()> {
    client
        .execute(
            "INSERT INTO tenantgate.audit_log (tenant_id, actor_kind, action, target, detail) \
             VALUES ($1, 'platform_admin', $2, $3, $4)",
            &[&tenant, &action, &tenant.to_string(), &detail],
        )
        .await
        .map_err(|e| anyhow::anyhow!("audit log: {}", describe(&e)))?;
    Ok(())
}

/// Refuses a schema or dedicated database another tenant already uses.
async fn ensure_free(
    control: &Client,
    placement: &PlacementSpec,
    except: Option<Uuid>,
) -> anyhow::Result<()> {
    let (kind, target, schema) = placement.columns();
    if kind == "shared" {
        return Ok(());
    }
    let taken = control
        .query_opt(
            "SELECT t.slug FROM tenantgate.tenant_placements AS p JOIN tenantgate.tenants AS t ON t.id = p.tenant_id \
              WHERE p.tenant_id IS DISTINCT FROM $4 AND ( \
                    ($1 = 'schema' AND p.schema_name = $3 AND p.database_target IS NOT DISTINCT FROM $2) \
                 OR ($1 = 'dedicated' AND p.placement = 'dedicated' AND p.database_target = $2))",
            &[&kind, &target, &schema, &except],
        )
        .await
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    if let Some(row) = taken {
        bail!(
            "{placement} already holds tenant {:?}",
            row.get::<_, String>(0)
        );
    }
    Ok(())
}

/// Migrates the placement's database and schema and copies the context keys there.
async fn prepare(
    targets: &Targets,
    migrations: &[Migration],
    control: &Client,
    placement: &PlacementSpec,
) -> anyhow::Result<()> {
    let db = placement.database();
    if db != Database::Control {
        let r = migrate::apply_target(targets, migrations, &Target::database(db.clone())).await?;
        if let Some(e) = r.error {
            bail!("preparing database {db}: {e}");
        }
        let client = targets.connect(&db).await?;
        db::sync_context_keys(control, &client).await?;
    }
    let r = migrate::apply_target(targets, migrations, &placement.target()).await?;
    if let Some(e) = r.error {
        bail!("preparing {placement}: {e}");
    }
    Ok(())
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

/// `tenant show`.
pub async fn show(targets: &Targets, slug: &str) -> anyhow::Result<TenantDetail> {
    let control = targets.connect(&Database::Control).await?;
    let tenant = find(&control, slug).await?;
    let data = targets.connect(&tenant.placement.database()).await?;
    let mut rows = BTreeMap::new();
    for table in tenant_tables(&data, tenant.placement.schema()).await? {
        let n: i64 = data
            .query_one(
                &format!(
                    "SELECT count(*) FROM {}.{} WHERE tenant_id = $1",
                    ident(tenant.placement.schema()),
                    ident(&table)
                ),
                &[&tenant.id],
            )
            .await?
            .get(0);
        rows.insert(table, n);
    }
    let domains = control
        .query(
            "SELECT domain, verified_at IS NOT NULL, revoked_at IS NOT NULL FROM tenantgate.tenant_domains \
              WHERE tenant_id = $1 ORDER BY domain",
            &[&tenant.id],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let members: i64 = control
        .query_one(
            "SELECT count(*) FROM tenantgate.memberships WHERE tenant_id = $1",
            &[&tenant.id],
        )
        .await?
        .get(0);
    Ok(TenantDetail {
        tenant,
        rows,
        domains,
        members,
    })
}

/// The tables of `schema` with a `tenant_id` column, parents before children (foreign keys).
pub async fn tenant_tables(client: &Client, schema: &str) -> anyhow::Result<Vec<String>> {
    let rows = client
        .query(
            "SELECT c.relname, coalesce(array_agg(DISTINCT f.relname) FILTER (WHERE f.relname IS NOT NULL \
                    AND f.relname <> c.relname), '{}') \
               FROM pg_class AS c \
               JOIN pg_namespace AS n ON n.oid = c.relnamespace \
               JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped \
               LEFT JOIN pg_constraint AS k ON k.conrelid = c.oid AND k.contype = 'f' \
               LEFT JOIN pg_class AS f ON f.oid = k.confrelid AND f.relnamespace = c.relnamespace \
              WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') \
              GROUP BY c.relname ORDER BY c.relname",
            &[&schema],
        )
        .await
        .map_err(|e| anyhow::anyhow!("listing tables of {schema}: {}", describe(&e)))?;
    let mut pending: Vec<(String, Vec<String>)> =
        rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let mut ordered: Vec<String> = Vec::new();
    while !pending.is_empty() {
        let before = pending.len();
        let mut i = 0;
        while i < pending.len() {
            if pending[i].1.iter().all(|p| ordered.contains(p)) {
                ordered.push(pending.remove(i).0);
            } else {
                i += 1;
            }
        }
        if pending.len() == before {
            bail!("foreign keys in {schema} form a cycle: {:?}", pending);
        }
    }
    Ok(ordered)
}

/// What a move did.
#[derive(Debug, Clone)]
pub struct MoveReport {
    /// From.
    pub from: PlacementSpec,
    /// To.
    pub to: PlacementSpec,
    /// Table -> (rows, checksum) copied and verified.
    pub tables: Vec<(String, i64, String)>,
    /// Set when the move is done but deleting the old rows failed (they are no longer routed to).
    pub cleanup_error: Option<String>,
}

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
pub async fn set_lifecycle(
    control: &mut Client,
    slug: &str,
    change: &Lifecycle,
) -> anyhow::Result<Tenant> {
    if let Lifecycle::Delete { grace_days } = change {
        if !(1..=365).contains(grace_days) {
            bail!("the grace period must be 1 to 365 days, not {grace_days}");
        }
    }
    let tx = control
        .transaction()
        .await
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    let (
        Tenant {
            id,
            status,
            purge_after,
            ..
        },
        grace_over,
    ) = locked_tenant(&tx, slug).await?;
    let (from, action, verb) = change.rule();
    if !from.contains(&status.as_str()) {
        bail!(
            "tenant {slug:?} is {status}: only a tenant that is {} can be {verb}; nothing changed",
            from.join(" or ")
        );
    }
    if *change == Lifecycle::Restore && grace_over {
        bail!(
            "tenant {slug:?} can no longer be restored: its grace period ended at {}; nothing changed",
            purge_after.unwrap_or_default()
        );
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
        .map_err(|e| anyhow::anyhow!("updating tenant {slug:?}: {}", describe(&e)))?;
    audit(&tx, id, action, detail).await?;
    tx.commit()
        .await
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    find(control, slug).await
}

/// What a purge did.
#[derive(Debug, Clone)]
pub struct PurgeReport {
    /// The purged tenant's slug.
    pub slug: String,
    /// Its id (kept in the audit log, which outlives it).
    pub id: Uuid,
    /// Where its data was.
    pub placement: PlacementSpec,
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
pub async fn purge(targets: &Targets, slug: &str) -> anyhow::Result<PurgeReport> {
    let mut control = targets.connect(&Database::Control).await?;
    // The tenant's row stays locked until the end: a restore waits, then finds it gone.
    let tx = control
        .transaction()
        .await
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    let (tenant, due) = locked_tenant(&tx, slug).await?;
    let status = &tenant.status;
    if status != "deleted" {
        bail!("tenant {slug:?} is {status}: only a deleted tenant is purged (`tenantgate tenant delete` first); nothing changed");
    }
    if !due {
        bail!(
            "tenant {slug:?} is within its grace period until {}: it is purged only after that; nothing changed",
            tenant.purge_after.as_deref().unwrap_or_default()
        );
    }
    lock_tenant_data(&tx, &tenant).await?;
    let at = tenant.placement.clone();
    let data = targets.connect(&at.database()).await?;
    let mut rows = BTreeMap::new();
    // A schema dropped by a purge that stopped before the end has no tables: nothing to delete.
    let tables = tenant_tables(&data, at.schema()).await?;
    for t in &tables {
        let n: i64 = data
            .query_one(
                &format!(
                    "SELECT count(*) FROM {}.{} WHERE tenant_id = $1",
                    ident(at.schema()),
                    ident(t)
                ),
                &[&tenant.id],
            )
            .await
            .map_err(|e| anyhow::anyhow!("counting {t} in {at}: {}", describe(&e)))?
            .get(0);
        rows.insert(t.clone(), n);
    }
    let schema_dropped = if tables.is_empty() {
        false
    } else {
        delete_rows(&data, &at, &tables, tenant.id, true).await?
    };
    if schema_dropped {
        tx.execute(
            "DELETE FROM tenantgate.schema_migrations WHERE placement = $1",
            &[&at.target().key],
        )
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "forgetting the dropped schema's migrations: {}",
                describe(&e)
            )
        })?;
    }
    tx.execute(
        "DELETE FROM tenantgate.tenants WHERE id = $1 AND status = 'deleted'",
        &[&tenant.id],
    )
    .await
    .map_err(|e| anyhow::anyhow!("removing tenant {slug:?}: {}", describe(&e)))?;
    audit(
        &tx,
        tenant.id,
        "tenant.purged",
        serde_json::json!({ "slug": slug, "placement": at.to_string(), "rows": rows }),
    )
    .await?;
    tx.commit()
        .await
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    Ok(PurgeReport {
        slug: slug.to_owned(),
        id: tenant.id,
        placement: at,
        rows,
        schema_dropped,
    })
}

/// The slugs of deleted tenants whose grace period has ended, oldest first.
pub async fn purge_due(control: &Client) -> anyhow::Result<Vec<String>> {
    let rows = control
        .query(
            "SELECT slug FROM tenantgate.tenants WHERE status = 'deleted' AND purge_after <= now() \
             ORDER BY purge_after, slug",
            &[],
        )
        .await
        .map_err(|e| anyhow::anyhow!("listing tenants due for purge: {}", describe(&e)))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Options of a move.
#[derive(Debug, Clone, Copy)]
pub struct MoveOptions {
    /// How long gateways may keep serving a cached routing entry (their cache bound plus a margin):
    /// waited after setting read-only and again after the flip.
    pub settle: Duration,
}

/// Moves tenant `slug` to `to`.
pub async fn move_tenant(
    targets: &Targets,
    migrations: &[Migration],
    slug: &str,
    to: &PlacementSpec,
    opts: MoveOptions,
) -> anyhow::Result<MoveReport> {
    let control = targets.connect(&Database::Control).await?;
    let tenant = find(&control, slug).await?;
    if tenant.status == "deleted" {
        bail!("tenant {slug:?} is deleted; a deleted tenant is not moved");
    }
    if tenant.placement == *to {
        bail!("tenant {slug:?} is already in {to}");
    }
    let from = tenant.placement.clone();
    lock_tenant_data(&control, &tenant).await?;
    ensure_free(&control, to, Some(tenant.id)).await?;
    prepare(targets, migrations, &control, to).await?;

    let src = targets.connect(&from.database()).await?;
    let dst = targets.connect(&to.database()).await?;
    let tables = tenant_tables(&src, from.schema()).await?;
    for t in &tables {
        let a = columns(&src, from.schema(), t).await?;
        let b = columns(&dst, to.schema(), t).await?;
        if a != b {
            bail!(
                "{t} differs between {from} and {to} (run `tenantgate migrate` first): {a:?} vs {b:?}"
            );
        }
    }

    set_read_only(&control, tenant.id, true, "tenant.move_started", &from, to).await?;
    tokio::time::sleep(opts.settle).await;

    let copied = match copy(&src, &dst, &from, to, &tables, tenant.id).await {
        Ok(sums) => sums,
        Err(e) => return Err(abort(&control, &dst, to, &tables, tenant.id, e).await),
    };

    // The guard: writers held back, the source must still be what was copied.
    let flip = async {
        src.batch_execute("BEGIN").await?;
        let lock = format!(
            "LOCK TABLE {} IN SHARE MODE",
            tables
                .iter()
                .map(|t| format!("{}.{}", ident(from.schema()), ident(t)))
                .collect::<Vec<_>>()
                .join(", ")
        );
        src.batch_execute(&lock).await?;
        for (t, rows, sum) in &copied {
            let now = checksum(&src, from.schema(), t, tenant.id).await?;
            if now != (*rows, sum.clone()) {
                bail!("{t} was written during the move ({rows} rows copied, {} now)", now.0);
            }
        }
        let (p, target, schema) = to.columns();
        control
            .execute(
                "UPDATE tenantgate.tenant_placements SET placement = $2, database_target = $3, schema_name = $4, \
                 read_only = false WHERE tenant_id = $1",
                &[&tenant.id, &p, &target, &schema],
            )
            .await
            .map_err(|e| anyhow::anyhow!("flipping the routing entry: {}", describe(&e)))?;
        src.batch_execute("COMMIT").await?;
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = flip {
        let _ = src.batch_execute("ROLLBACK").await;
        return Err(abort(&control, &dst, to, &tables, tenant.id, e).await);
    }
    audit(
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
        Ok(true) => control
            .execute(
                "DELETE FROM tenantgate.schema_migrations WHERE placement = $1",
                &[&from.target().key],
            )
            .await
            .err()
            .map(|e| {
                format!(
                    "forgetting the dropped schema's migrations: {}",
                    describe(&e)
                )
            }),
        Ok(false) => None,
        Err(e) => Some(format!("{e:#}")),
    };
    Ok(MoveReport {
        from,
        to: to.clone(),
        tables: copied,
        cleanup_error,
    })
}

/// Tenant `slug`, its row locked until `tx` ends, and whether it is deleted and past its grace
/// period.
async fn locked_tenant(
    tx: &tokio_postgres::Transaction<'_>,
    slug: &str,
) -> anyhow::Result<(Tenant, bool)> {
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
        .map_err(|e| anyhow::anyhow!("reading tenant {slug:?}: {}", describe(&e)))?
        .with_context(|| format!("no tenant with slug {slug:?}"))?;
    Ok((tenant_from_row(&row)?, row.get(10)))
}

/// Takes the lock a move or a purge holds on a tenant's data for its whole run (a session-level
/// advisory lock, released when the connection closes); refused while another command has it.
async fn lock_tenant_data(
    client: &impl tokio_postgres::GenericClient,
    tenant: &Tenant,
) -> anyhow::Result<()> {
    let locked: bool = client
        .query_one(
            "SELECT pg_try_advisory_lock(hashtext('tenantgate move'), hashtext($1))",
            &[&tenant.id.to_string()],
        )
        .await?
        .get(0);
    if !locked {
        bail!(
            "tenant {:?} is being moved or purged by another command",
            tenant.slug
        );
    }
    Ok(())
}

async fn set_read_only(
    control: &Client,
    tenant: Uuid,
    ro: bool,
    action: &str,
    from: &PlacementSpec,
    to: &PlacementSpec,
) -> anyhow::Result<()> {
    control
        .execute(
            "UPDATE tenantgate.tenant_placements SET read_only = $2 WHERE tenant_id = $1",
            &[&tenant, &ro],
        )
        .await
        .map_err(|e| anyhow::anyhow!("setting read-only: {}", describe(&e)))?;
    audit(
        control,
        tenant,
        action,
        serde_json::json!({ "from": from.to_string(), "to": to.to_string() }),
    )
    .await
}

/// Undoes a move that failed before its flip: the copy is deleted, read-only lifted.
async fn abort(
    control: &Client,
    dst: &Client,
    to: &PlacementSpec,
    tables: &[String],
    tenant: Uuid,
    cause: anyhow::Error,
) -> anyhow::Error {
    let _ = dst.batch_execute("ROLLBACK").await;
    // The destination schema stays (empty) with its migration records: a retry reuses it.
    let cleanup = delete_rows(dst, to, tables, tenant, false).await;
    let lifted = control
        .execute(
            "UPDATE tenantgate.tenant_placements SET read_only = false WHERE tenant_id = $1",
            &[&tenant],
        )
        .await;
    let _ = audit(
        control,
        tenant,
        "tenant.move_failed",
        serde_json::json!({ "to": to.to_string(), "error": format!("{cause:#}") }),
    )
    .await;
    let mut msg = format!("move failed, the old placement is still authoritative: {cause:#}");
    if let Err(e) = cleanup {
        msg.push_str(&format!(
            "; the partial copy in {to} could not be deleted: {e:#}"
        ));
    }
    if let Err(e) = lifted {
        msg.push_str(&format!(
            "; read-only could not be lifted: {}",
            describe(&e)
        ));
    }
    anyhow::anyhow!(msg)
}

/// (name, type) of each copyable column, in table order.
async fn columns(
    client: &Client,
    schema: &str,
    table: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let rows = client
        .query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute AS a \
               JOIN pg_class AS c ON c.oid = a.attrelid JOIN pg_namespace AS n ON n.oid = c.relnamespace \
              WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped \
                AND a.attgenerated = '' ORDER BY a.attnum",
            &[&schema, &table],
        )
        .await?;
    if rows.is_empty() {
        bail!("table {schema}.{table} does not exist");
    }
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// (rows, md5 over the sorted md5s of each row's text) of the tenant's rows in one table.
async fn checksum(
    client: &Client,
    schema: &str,
    table: &str,
    tenant: Uuid,
) -> anyhow::Result<(i64, String)> {
    let cols = columns(client, schema, table).await?;
    let row_expr = cols
        .iter()
        .map(|(c, _)| format!("x.{}", ident(c)))
        .collect::<Vec<_>>()
        .join(", ");
    let row = client
        .query_one(
            &format!(
                "SELECT count(*), coalesce(md5(string_agg(h, '' ORDER BY h)), '') \
                   FROM (SELECT md5(ROW({row_expr})::text) AS h FROM {}.{} AS x WHERE x.tenant_id = $1) AS s",
                ident(schema),
                ident(table)
            ),
            &[&tenant],
        )
        .await
        .map_err(|e| anyhow::anyhow!("checksum of {schema}.{table}: {}", describe(&e)))?;
    Ok((row.get(0), row.get(1)))
}

/// Copies the tenant's rows table by table (binary COPY), from a consistent snapshot of the source,
/// into one destination transaction that commits only when every table's count and checksum agree.
async fn copy(
    src: &Client,
    dst: &Client,
    from: &PlacementSpec,
    to: &PlacementSpec,
    tables: &[String],
    tenant: Uuid,
) -> anyhow::Result<Vec<(String, i64, String)>> {
    src.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await?;
    dst.batch_execute("BEGIN").await?;
    let result = async {
        // Left-overs of an earlier failed move are not authoritative: start clean.
        for t in tables.iter().rev() {
            dst.execute(
                &format!("DELETE FROM {}.{} WHERE tenant_id = $1", ident(to.schema()), ident(t)),
                &[&tenant],
            )
            .await
            .map_err(|e| anyhow::anyhow!("clearing {t} in {to}: {}", describe(&e)))?;
        }
        let mut sums = Vec::new();
        for t in tables {
            let cols = columns(src, from.schema(), t).await?;
            let list = cols.iter().map(|(c, _)| ident(c)).collect::<Vec<_>>().join(", ");
            let out = src
                .copy_out(&format!(
                    "COPY (SELECT {list} FROM {}.{} WHERE tenant_id = '{tenant}') TO STDOUT (FORMAT binary)",
                    ident(from.schema()),
                    ident(t)
                ))
                .await
                .map_err(|e| anyhow::anyhow!("reading {t} from {from}: {}", describe(&e)))?;
            let sink = dst
                .copy_in(&format!(
                    "COPY {}.{} ({list}) FROM STDIN (FORMAT binary)",
                    ident(to.schema()),
                    ident(t)
                ))
                .await
                .map_err(|e| anyhow::anyhow!("writing {t} to {to}: {}", describe(&e)))?;
            futures::pin_mut!(out);
            futures::pin_mut!(sink);
            while let Some(chunk) = out.next().await {
                let chunk = chunk.map_err(|e| anyhow::anyhow!("reading {t}: {}", describe(&e)))?;
                sink.send(chunk)
                    .await
                    .map_err(|e| anyhow::anyhow!("writing {t}: {}", describe(&e)))?;
            }
            sink.as_mut()
                .finish()
                .await
                .map_err(|e| anyhow::anyhow!("writing {t}: {}", describe(&e)))?;
            let a = checksum(src, from.schema(), t, tenant).await?;
            let b = checksum(dst, to.schema(), t, tenant).await?;
            if a != b {
                bail!("{t}: the copy does not match ({} rows, {} vs {} rows, {})", a.0, a.1, b.0, b.1);
            }
            sums.push((t.clone(), a.0, a.1));
        }
        anyhow::Ok(sums)
    }
    .await;
    let _ = src.batch_execute("COMMIT").await;
    match result {
        Ok(sums) => {
            dst.batch_execute("COMMIT")
                .await
                .map_err(|e| anyhow::anyhow!("committing the copy: {}", describe(&e)))?;
            Ok(sums)
        }
        Err(e) => {
            let _ = dst.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}

/// Deletes the tenant's rows from a placement, children first; with `drop_empty_schema`, drops a tenant
/// schema left empty and says so.
async fn delete_rows(
    client: &Client,
    at: &PlacementSpec,
    tables: &[String],
    tenant: Uuid,
    drop_empty_schema: bool,
) -> anyhow::Result<bool> {
    client.batch_execute("BEGIN").await?;
    let result = async {
        for t in tables.iter().rev() {
            client
                .execute(
                    &format!(
                        "DELETE FROM {}.{} WHERE tenant_id = $1",
                        ident(at.schema()),
                        ident(t)
                    ),
                    &[&tenant],
                )
                .await
                .map_err(|e| anyhow::anyhow!("deleting {t} in {at}: {}", describe(&e)))?;
        }
        let mut dropped = false;
        if let (PlacementSpec::Schema { schema, .. }, true) = (at, drop_empty_schema) {
            let mut empty = true;
            for t in tables {
                let any: bool = client
                    .query_one(
                        &format!(
                            "SELECT EXISTS (SELECT 1 FROM {}.{})",
                            ident(schema),
                            ident(t)
                        ),
                        &[],
                    )
                    .await?
                    .get(0);
                empty &= !any;
            }
            if empty {
                client
                    .batch_execute(&format!("DROP SCHEMA {} CASCADE", ident(schema)))
                    .await
                    .map_err(|e| anyhow::anyhow!("dropping schema {schema}: {}", describe(&e)))?;
                dropped = true;
            }
        }
        anyhow::Ok(dropped)
    }
    .await;
    match result {
        Ok(dropped) => {
            client.batch_execute("COMMIT").await?;
            Ok(dropped)
        }
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placements_parse_with_clear_errors() {
        assert_eq!(
            PlacementSpec::parse("shared", None, None, "acme").unwrap(),
            PlacementSpec::Shared
        );
        assert_eq!(
            PlacementSpec::parse("schema", None, None, "big-co").unwrap(),
            PlacementSpec::Schema {
                database: Database::Control,
                schema: "tenant_big_co".into()
            }
        );
        assert_eq!(
            PlacementSpec::parse("dedicated", Some("eu"), None, "acme")
                .unwrap()
                .to_string(),
            "dedicated:eu"
        );
        let err = |k, t, s| {
            PlacementSpec::parse(k, t, s, "acme")
                .unwrap_err()
                .to_string()
        };
        assert!(err("dedicated", None, None).contains("--database"));
        assert!(err("schema", None, Some("public")).contains("tenant_"));
        assert!(err("shared", Some("eu"), None).contains("neither"));
        assert!(err("moon", None, None).contains("shared, schema, dedicated"));
    }

    #[test]
    fn slugs_are_dns_labels() {
        assert!(valid_slug("acme"));
        assert!(valid_slug("a-1"));
        for bad in ["", "-a", "a-", "Acme", "a.b", "a_b", &"a".repeat(64)] {
            assert!(!valid_slug(bad), "{bad}");
        }
    }
}
