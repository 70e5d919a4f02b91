//! The behaviour half of the isolation audit: what the application role and the owner role see and
//! may update under each viewer's signed context, and without one. Every statement runs in a
//! transaction that is rolled back, as the role under test (`SET LOCAL ROLE`).

use tokio_postgres::Client;

use tenant_contract::context::{ContextClaims, ContextSigner};
use tenant_contract::ids::RequestId;
use tenant_contract::UnixMillis;

use crate::db::{ident, Database};
use crate::error::{Error, Result};
use crate::placement::PlacementExt as _;
use crate::report::Doing as _;
use crate::tenant::Tenant;

/// The tenants that try to read a table in `schema` of `db`: those placed there, then others.
pub(super) fn viewers<'a>(
    all: &'a [Tenant],
    db: &Database,
    schema: &str,
    others: usize,
) -> Vec<&'a Tenant> {
    let home = |t: &Tenant| {
        schema == "tenantgate"
            || (t.placement.database() == *db && t.placement.search_path() == schema)
    };
    let mut out: Vec<&Tenant> = all.iter().filter(|t| home(t)).collect();
    out.extend(all.iter().filter(|t| !home(t)).take(others));
    out
}

/// Cross-tenant reads and updates as the application role, and reads as the owner role.
pub(super) async fn behaviour(
    client: &Client,
    schema: &str,
    table: &str,
    viewers: &[&Tenant],
    signer: &ContextSigner,
) -> Result<Vec<(&'static str, String)>> {
    let q = format!("{}.{}", ident(schema), ident(table));
    let rights = client
        .query_one(
            "SELECT has_table_privilege('tenantgate_app', $1::text::regclass, 'SELECT'), \
                    has_table_privilege('tenantgate_app', $1::text::regclass, 'UPDATE')",
            &[&q],
        )
        .await
        .doing(format_args!("reading the rights on {q}"))?;
    let (can_select, can_update): (bool, bool) = (rights.get(0), rights.get(1));
    let mut out = Vec::new();
    // Nothing is visible without a context, as the application role and as the owner.
    for role in ["tenantgate_app", "tenantgate_owner"] {
        if role == "tenantgate_app" && !can_select {
            continue;
        }
        let seen = in_role(
            client,
            role,
            None,
            &format!("SELECT count(*) FROM {q}"),
            &[],
        )
        .await?;
        if seen > 0 {
            out.push((
                "no-context",
                format!("{role} sees {seen} row(s) without a tenant context"),
            ));
        }
    }
    for v in viewers {
        let ctx = context_for(signer, v)?;
        let own: i64 = client
            .query_one(
                &format!("SELECT count(*) FROM {q} WHERE tenant_id = $1"),
                &[&v.id],
            )
            .await
            .doing(format_args!("counting {}'s rows in {q}", v.slug))?
            .get(0);
        if can_select {
            let others = in_role(
                client,
                "tenantgate_app",
                Some(&ctx),
                &format!("SELECT count(*) FROM {q} WHERE tenant_id IS DISTINCT FROM $1"),
                &[&v.id],
            )
            .await?;
            if others > 0 {
                out.push((
                    "cross-read",
                    format!(
                        "under {}'s context {others} row(s) of other tenants are visible",
                        v.slug
                    ),
                ));
            }
            let mine = in_role(
                client,
                "tenantgate_app",
                Some(&ctx),
                &format!("SELECT count(*) FROM {q} WHERE tenant_id = $1"),
                &[&v.id],
            )
            .await?;
            if mine != own {
                out.push((
                    "own-rows",
                    format!("{} sees {mine} of its {own} row(s)", v.slug),
                ));
            }
        }
        if can_update {
            let changed = in_role(
                client,
                "tenantgate_app",
                Some(&ctx),
                &format!(
                    "WITH u AS (UPDATE {q} SET tenant_id = tenant_id WHERE tenant_id IS DISTINCT FROM $1 RETURNING 1) \
                     SELECT count(*) FROM u"
                ),
                &[&v.id],
            )
            .await?;
            if changed > 0 {
                out.push((
                    "cross-write",
                    format!(
                        "under {}'s context {changed} row(s) of other tenants are updatable",
                        v.slug
                    ),
                ));
            }
        }
        let owner_seen = in_role(
            client,
            "tenantgate_owner",
            Some(&ctx),
            &format!("SELECT count(*) FROM {q}"),
            &[],
        )
        .await?;
        if owner_seen > 0 {
            out.push((
                "owner-read",
                format!(
                    "the owner role sees {owner_seen} row(s) under {}'s context",
                    v.slug
                ),
            ));
        }
        if out.len() > 20 {
            break;
        }
    }
    Ok(out)
}

/// Runs one counting statement as `role` with the context bound, in a transaction rolled back after.
async fn in_role(
    client: &Client,
    role: &str,
    ctx: Option<&str>,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<i64> {
    client
        .batch_execute("BEGIN")
        .await
        .doing("starting a transaction")?;
    let result = async {
        client
            .batch_execute(&format!("SET LOCAL ROLE {}", ident(role)))
            .await?;
        if let Some(c) = ctx {
            client
                .execute("SELECT set_config('tenantgate.context', $1, true)", &[&c])
                .await?;
        }
        let n: i64 = client.query_one(sql, params).await?.get(0);
        Ok::<_, tokio_postgres::Error>(n)
    }
    .await;
    let _ = client.batch_execute("ROLLBACK").await;
    result.doing(sql)
}

/// A context for tenant `t` as the gateway would sign it for a request with no user, valid
/// for the signer's TTL (the isolation audit signs with a temporary key, for five minutes).
pub fn context_for(signer: &ContextSigner, t: &Tenant) -> Result<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let inconsistent = |what: &str| Error::Inconsistent(format!("tenant {}: {what}", t.slug));
    let claims = ContextClaims {
        tid: t.id.into(),
        slug: t.slug.parse().map_err(|_| inconsistent("slug"))?,
        placement: t.placement.clone(),
        uid: None,
        roles: Vec::new(),
        perms: Vec::new(),
        rid: "audit-isolation"
            .parse::<RequestId>()
            .expect("a valid request id"),
        exp: signer.expiry(UnixMillis(now)),
        ro: false,
    };
    Ok(signer.sign(&claims).into_string())
}
