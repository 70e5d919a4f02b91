//! Plans and per-tenant limits (`tenantgate plan ...`, `tenantgate tenant limits ...`): the
//! documents the gateway enforces (README "Rate limits"; the format is
//! `tenant_contract::limits`). Every change is validated as the merged document the gateway
//! will read, written with its audit event in one transaction, and in effect on every gateway
//! instance within the tenant cache's bound (5 s).

use serde::Serialize;
use serde_json::{Map, Value};
use tenant_contract::limits::{LimitPolicy, Rate, KINDS};
use tokio_postgres::Client;

use crate::error::{Error, Result};
use crate::events;
use crate::report::Doing as _;

/// One change to a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Set a rate kind (`tenant`, `user`, ...).
    Set(String, Rate),
    /// Remove a limit: on a plan, the kind is no longer limited; on a tenant, it is not limited
    /// even if the plan limits it.
    Unset(String),
    /// On a tenant: drop its override of this kind (`monthly_requests` too), back to the plan's.
    Inherit(String),
    /// The monthly quota (`None`: no quota).
    Quota(Option<u64>),
}

/// Parses `KIND=REQUESTS/PERIOD[:BURST]`.
pub fn parse_set(text: &str) -> Result<Change> {
    let (kind, spec) = text.split_once('=').ok_or_else(|| {
        Error::InvalidLimits(format!("{text:?}: expected KIND=REQUESTS/PERIOD[:BURST]"))
    })?;
    let kind = check_kind(kind.trim())?;
    let rate = Rate::parse_spec(spec).map_err(|e| Error::InvalidLimits(e.0))?;
    Ok(Change::Set(kind, rate))
}

/// Checks a kind name (`monthly_requests` allowed where `also_quota`).
pub fn check_kind(kind: &str) -> Result<String> {
    if KINDS.contains(&kind) || kind == "monthly_requests" {
        Ok(kind.to_owned())
    } else {
        Err(Error::InvalidLimits(format!(
            "unknown limit {kind:?}: one of {}, monthly_requests",
            KINDS.join(", ")
        )))
    }
}

fn apply(doc: &mut Map<String, Value>, changes: &[Change], overrides: bool) -> Result<()> {
    for c in changes {
        match c {
            Change::Set(kind, rate) => {
                doc.insert(
                    kind.clone(),
                    serde_json::to_value(rate).expect("a rate is JSON"),
                );
            }
            Change::Unset(kind) if overrides => {
                doc.insert(kind.clone(), Value::Null);
            }
            Change::Unset(kind) => {
                doc.remove(kind);
            }
            Change::Inherit(kind) => {
                doc.remove(kind);
            }
            Change::Quota(Some(q)) => {
                doc.insert("monthly_requests".into(), Value::from(*q));
            }
            Change::Quota(None) if overrides => {
                doc.insert("monthly_requests".into(), Value::Null);
            }
            Change::Quota(None) => {
                doc.remove("monthly_requests");
            }
        }
    }
    Ok(())
}

fn validate(merged: &Value) -> Result<LimitPolicy> {
    let stripped: Map<String, Value> = merged
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    LimitPolicy::from_json(&Value::Object(stripped).to_string())
        .map_err(|e| Error::InvalidLimits(e.0))
}

/// A plan and its limits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// Id (`free`, `pro`, ...).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Its document.
    pub limits: Value,
    /// Tenants on it.
    pub tenants: i64,
}

/// Every plan.
pub async fn plans(control: &Client) -> Result<Vec<Plan>> {
    let rows = control
        .query(
            "SELECT p.id, p.name, p.limits, (SELECT count(*) FROM tenantgate.tenants t WHERE t.plan = p.id) \
             FROM tenantgate.plans AS p ORDER BY p.id",
            &[],
        )
        .await
        .doing("reading plans")?;
    Ok(rows
        .iter()
        .map(|r| Plan {
            id: r.get(0),
            name: r.get(1),
            limits: r.get(2),
            tenants: r.get(3),
        })
        .collect())
}

/// Creates or changes plan `id` (a new plan needs no name: it defaults to the id). Audited as a
/// platform event.
pub async fn set_plan(
    control: &mut Client,
    id: &str,
    name: Option<&str>,
    changes: &[Change],
) -> Result<Plan> {
    let valid_id = !id.is_empty()
        && id.len() <= 63
        && id.bytes().enumerate().all(|(i, b)| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || (i > 0 && (b == b'-' || b == b'_'))
        });
    if !valid_id {
        return Err(Error::InvalidLimits(format!(
            "plan id {id:?}: lower-case a-z, 0-9, '-' and '_', 1 to 63 characters"
        )));
    }
    if changes.iter().any(|c| matches!(c, Change::Inherit(_))) {
        return Err(Error::InvalidLimits(
            "--inherit applies to a tenant's limits, not a plan".into(),
        ));
    }
    if name.is_some_and(|n| n.trim().is_empty() || n.len() > 200) {
        return Err(Error::InvalidName);
    }
    let tx = control
        .transaction()
        .await
        .doing("starting the plan change")?;
    let before: Option<(String, Value)> = tx
        .query_opt(
            "SELECT name, limits FROM tenantgate.plans WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await
        .doing(format_args!("reading plan {id:?}"))?
        .map(|r| (r.get(0), r.get(1)));
    let mut doc = match &before {
        Some((_, Value::Object(m))) => m.clone(),
        _ => Map::new(),
    };
    apply(&mut doc, changes, false)?;
    let after = Value::Object(doc);
    validate(&after)?;
    let name = name
        .map(str::to_owned)
        .or(before.as_ref().map(|b| b.0.clone()))
        .unwrap_or_else(|| id.to_owned());
    tx.execute(
        "INSERT INTO tenantgate.plans (id, name, limits) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, limits = EXCLUDED.limits",
        &[&id, &name, &after],
    )
    .await
    .doing(format_args!("writing plan {id:?}"))?;
    let detail = serde_json::json!({
        "plan": id, "name": name,
        "before": before.as_ref().map(|b| b.1.clone()), "after": after,
    });
    events::record_platform(
        &tx,
        if before.is_some() {
            "plan.updated"
        } else {
            "plan.created"
        },
        id,
        detail,
    )
    .await?;
    tx.commit().await.doing("committing the plan change")?;
    plans(control)
        .await?
        .into_iter()
        .find(|p| p.id == id)
        .ok_or_else(|| Error::Inconsistent(format!("plan {id:?} vanished")))
}

/// A tenant's limits: its plan's, its overrides and what the gateway enforces.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TenantLimits {
    /// The tenant.
    pub slug: String,
    /// Its plan.
    pub plan: String,
    /// The plan's document.
    pub plan_limits: Value,
    /// The tenant's overrides (`{}` for none).
    pub overrides: Value,
    /// The merged document the gateway enforces.
    pub effective: Value,
}

/// Reads a tenant's limits.
pub async fn tenant_limits(control: &Client, slug: &str) -> Result<TenantLimits> {
    let row = control
        .query_opt(
            "SELECT t.slug, t.plan, p.limits, COALESCE(o.limits, '{}'::jsonb), tenantgate.effective_limits(t.id) \
             FROM tenantgate.tenants AS t JOIN tenantgate.plans AS p ON p.id = t.plan \
             LEFT JOIN tenantgate.tenant_limits AS o ON o.tenant_id = t.id WHERE t.slug = $1",
            &[&slug],
        )
        .await
        .doing(format_args!("reading the limits of {slug:?}"))?
        .ok_or_else(|| Error::UnknownTenant { slug: slug.to_owned() })?;
    Ok(TenantLimits {
        slug: row.get(0),
        plan: row.get(1),
        plan_limits: row.get(2),
        overrides: row.get(3),
        effective: row.get(4),
    })
}

/// Changes a tenant's overrides (`clear` first drops them all) and, with `plan`, moves it to
/// another plan. Audited in the tenant's log.
pub async fn set_tenant_limits(
    control: &mut Client,
    slug: &str,
    plan: Option<&str>,
    clear: bool,
    changes: &[Change],
) -> Result<TenantLimits> {
    let tx = control
        .transaction()
        .await
        .doing("starting the limits change")?;
    let row = tx
        .query_opt(
            "SELECT t.id, t.plan, COALESCE(o.limits, '{}'::jsonb) FROM tenantgate.tenants AS t \
             LEFT JOIN tenantgate.tenant_limits AS o ON o.tenant_id = t.id WHERE t.slug = $1 FOR UPDATE OF t",
            &[&slug],
        )
        .await
        .doing(format_args!("reading the limits of {slug:?}"))?
        .ok_or_else(|| Error::UnknownTenant { slug: slug.to_owned() })?;
    let (id, old_plan, before): (uuid::Uuid, String, Value) = (row.get(0), row.get(1), row.get(2));
    let new_plan = plan.unwrap_or(&old_plan).to_owned();
    let plan_doc: Value = tx
        .query_opt(
            "SELECT limits FROM tenantgate.plans WHERE id = $1",
            &[&new_plan],
        )
        .await
        .doing("reading the plan")?
        .map(|r| r.get(0))
        .ok_or(Error::UnknownPlan)?;
    let mut doc = if clear {
        Map::new()
    } else {
        before.as_object().cloned().unwrap_or_default()
    };
    apply(&mut doc, changes, true)?;
    let mut merged = plan_doc.as_object().cloned().unwrap_or_default();
    merged.extend(doc.clone());
    validate(&Value::Object(merged))?;
    let after = Value::Object(doc);
    if new_plan != old_plan {
        tx.execute(
            "UPDATE tenantgate.tenants SET plan = $2 WHERE id = $1",
            &[&id, &new_plan],
        )
        .await
        .doing("changing the plan")?;
    }
    tx.execute(
        "INSERT INTO tenantgate.tenant_limits (tenant_id, limits) VALUES ($1, $2) \
         ON CONFLICT (tenant_id) DO UPDATE SET limits = EXCLUDED.limits, updated_at = now()",
        &[&id, &after],
    )
    .await
    .doing("writing the overrides")?;
    let detail = serde_json::json!({
        "plan_before": old_plan, "plan_after": new_plan, "before": before, "after": after,
    });
    events::commit_with(tx, id, "tenant.limits_updated", detail).await?;
    tenant_limits(control, slug).await
}

/// The documents as the CLI prints them: one line per kind.
pub fn describe(doc: &Value) -> Vec<String> {
    let Some(map) = doc.as_object() else {
        return vec![];
    };
    let mut out = Vec::new();
    for kind in KINDS {
        match map.get(kind) {
            Some(Value::Null) => out.push(format!("{kind:<17} not limited (override)")),
            Some(v) => match serde_json::from_value::<Rate>(v.clone()) {
                Ok(r) => out.push(format!(
                    "{kind:<17} {}/{}s, burst {}",
                    r.requests,
                    r.per_seconds,
                    r.burst()
                )),
                Err(_) => out.push(format!("{kind:<17} {v}")),
            },
            None => {}
        }
    }
    match map.get("monthly_requests") {
        Some(Value::Null) => out.push("monthly_requests  no quota (override)".into()),
        Some(v) => out.push(format!("monthly_requests  {v}")),
        None => {}
    }
    out
}
