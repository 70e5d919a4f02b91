//! `tenantgate domain add|verify|revoke|list`: custom domains (docs/architecture.md §3).
//!
//! A tenant claims a domain with `add`, which issues a random verification token. The tenant proves
//! control of the domain by publishing the token, either as a DNS TXT record at
//! `_tenantgate.<domain>` or as the body of `http://<domain>/.well-known/tenantgate-verification`
//! (served by the tenant's own server, before the domain points at the platform). `verify` looks for
//! it and marks the claim verified; only then does the gateway route the domain
//! (`tenantgate.resolve_tenant_by_domain()`), and it stops within its cache bound after `revoke`.
//!
//! Any number of tenants may hold a pending claim on a domain; whichever proves control first owns it
//! until it is revoked (0004_domain_claims.sql). Names are normalised as the gateway normalises a
//! `Host` (lower case, one trailing dot dropped, IDNA to ASCII), so what is stored is what matches.

mod checks;
mod verify;

use std::fmt;

use tokio_postgres::{Client, GenericClient, Transaction};

pub use crate::contract::normalise_domain;
use crate::db::{Database, Targets};
use crate::error::{Error, Result};
use crate::events;
use crate::report::Doing as _;
use crate::tenant::{find, find_live};
pub use checks::is_public;
pub use verify::{verify, Method, Verification, VerifyOptions};

/// The label under which the TXT record is published: `_tenantgate.<domain>`.
pub const TXT_LABEL: &str = "_tenantgate";
/// Where the HTTP token is served on the domain.
pub const WELL_KNOWN_PATH: &str = "/.well-known/tenantgate-verification";
/// Every token starts with this, so a record is recognisable for what it is.
pub const TOKEN_PREFIX: &str = "tg-verify-";
/// What a deleted tenant's domain change is refused with.
const DELETED: &str = "its domains cannot change";

/// A fresh verification token: the prefix and 128 random bits in hex.
pub fn new_token() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(Error::NoRandomness)?;
    Ok(format!(
        "{TOKEN_PREFIX}{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// Where a claim stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Added, control not proven yet; does not route.
    Pending,
    /// Control proven; routes to the tenant.
    Verified,
    /// Withdrawn; does not route.
    Revoked,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Pending => "pending",
            State::Verified => "verified",
            State::Revoked => "revoked",
        })
    }
}

/// One tenant's claim on a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    /// The tenant's slug.
    pub slug: String,
    /// The normalised domain.
    pub domain: String,
    /// Its state.
    pub state: State,
    /// The token that proves control.
    pub token: String,
    /// When it was claimed (or claimed again after a revocation), UTC.
    pub created_at: String,
    /// When control was proven, UTC.
    pub verified_at: Option<String>,
}

impl Domain {
    /// What the tenant publishes, and the command that checks it.
    pub fn instructions(&self) -> String {
        format!(
            "prove control of {d} with either\n  \
             DNS:  a TXT record at {TXT_LABEL}.{d} with the value {t}\n  \
             HTTP: http://{d}{WELL_KNOWN_PATH} answering 200 with the body {t}\n\
             then run: tenantgate domain verify {s} {d}",
            d = self.domain,
            t = self.token,
            s = self.slug,
        )
    }
}

const DOMAIN_SELECT: &str = "SELECT t.slug, d.domain, d.verification_token, \
    to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
    to_char(d.verified_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
    d.revoked_at IS NOT NULL \
    FROM tenantgate.tenant_domains AS d JOIN tenantgate.tenants AS t ON t.id = d.tenant_id";

fn domain_from_row(r: &tokio_postgres::Row) -> Domain {
    let verified_at: Option<String> = r.get(4);
    let revoked: bool = r.get(5);
    Domain {
        slug: r.get(0),
        domain: r.get(1),
        token: r.get(2),
        created_at: r.get(3),
        state: match (revoked, verified_at.is_some()) {
            (true, _) => State::Revoked,
            (false, true) => State::Verified,
            (false, false) => State::Pending,
        },
        verified_at,
    }
}

/// The tenant's claim on `domain`, if it has one.
async fn claim(control: &Client, slug: &str, domain: &str) -> Result<Option<Domain>> {
    let row = control
        .query_opt(
            &format!("{DOMAIN_SELECT} WHERE t.slug = $1 AND d.domain = $2"),
            &[&slug, &domain],
        )
        .await
        .doing(format_args!("reading {domain}"))?;
    Ok(row.as_ref().map(domain_from_row))
}

/// The tenant for which `domain` routes, if any.
async fn owner(c: &impl GenericClient, domain: &str) -> Result<Option<String>> {
    let row = c
        .query_opt(
            "SELECT t.slug FROM tenantgate.tenant_domains AS d JOIN tenantgate.tenants AS t ON t.id = d.tenant_id \
             WHERE d.domain = $1 AND d.verified_at IS NOT NULL AND d.revoked_at IS NULL",
            &[&domain],
        )
        .await
        .doing(format_args!("reading {domain}"))?;
    Ok(row.map(|r| r.get(0)))
}

/// Serialises changes to one domain's claims (by every tenant) until the transaction ends.
async fn lock(tx: &Transaction<'_>, domain: &str) -> Result<()> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('tenantgate.domain:' || $1, 0))",
        &[&domain],
    )
    .await
    .doing(format_args!("locking {domain}"))?;
    Ok(())
}

/// The claim just written, read back.
async fn reread(control: &Client, slug: &str, domain: &str) -> Result<Domain> {
    claim(control, slug, domain).await?.ok_or_else(|| {
        Error::Inconsistent(format!(
            "the claim on {domain} vanished after it was written"
        ))
    })
}

/// What `add` did.
#[derive(Debug, Clone)]
pub struct Added {
    /// The claim, pending.
    pub domain: Domain,
    /// True when the tenant already had this pending claim (same token as before).
    pub existing: bool,
}

/// Claims `domain` for the tenant, pending verification. Adding a domain the tenant already claims
/// gives back the same token; adding one it revoked issues a new token. A domain verified for any
/// tenant is refused until it is revoked there.
pub async fn add(targets: &Targets, slug: &str, domain: &str) -> Result<Added> {
    let domain = normalise_domain(domain)?;
    let mut control = targets.connect(&Database::Control).await?;
    let tenant = find_live(&control, slug, DELETED).await?;
    let tx = control
        .transaction()
        .await
        .doing("starting a transaction")?;
    lock(&tx, &domain).await?;
    match owner(&tx, &domain).await? {
        Some(o) if o == slug => {
            return Err(Error::DomainAlreadyVerified {
                domain,
                slug: slug.into(),
            })
        }
        Some(owner) => return Err(Error::DomainTaken { domain, owner }),
        None => {}
    }
    let before = tx
        .query_opt(
            "SELECT revoked_at IS NOT NULL FROM tenantgate.tenant_domains WHERE tenant_id = $1 AND domain = $2",
            &[&tenant.id, &domain],
        )
        .await
        .doing(format_args!("reading {domain}"))?
        .map(|r| r.get::<_, bool>(0));
    let existing = before == Some(false);
    if !existing {
        let token = new_token()?;
        tx.execute(
            "INSERT INTO tenantgate.tenant_domains (tenant_id, domain, verification_token) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, domain) DO UPDATE SET verification_token = EXCLUDED.verification_token, \
                 created_at = now(), verified_at = NULL, revoked_at = NULL",
            &[&tenant.id, &domain, &token],
        )
        .await
        .doing(format_args!("claiming {domain}"))?;
        events::record(
            &tx,
            tenant.id,
            "domain.added",
            serde_json::json!({ "domain": domain }),
        )
        .await?;
    }
    tx.commit()
        .await
        .doing(format_args!("committing the claim on {domain}"))?;
    let domain = reread(&control, slug, &domain).await?;
    Ok(Added { domain, existing })
}

/// Withdraws the tenant's claim on `domain`, verified or pending. The gateway stops routing it
/// within its cache bound.
pub async fn revoke(targets: &Targets, slug: &str, domain: &str) -> Result<Domain> {
    let domain = normalise_domain(domain)?;
    let mut control = targets.connect(&Database::Control).await?;
    let tenant = find(&control, slug).await?;
    let tx = control
        .transaction()
        .await
        .doing("starting a transaction")?;
    lock(&tx, &domain).await?;
    let was_verified: bool = tx
        .query_opt(
            "UPDATE tenantgate.tenant_domains SET revoked_at = now() \
             WHERE tenant_id = $1 AND domain = $2 AND revoked_at IS NULL \
             RETURNING verified_at IS NOT NULL",
            &[&tenant.id, &domain],
        )
        .await
        .doing(format_args!("revoking {domain}"))?
        .ok_or_else(|| Error::NoLiveClaim {
            domain: domain.clone(),
            slug: slug.into(),
        })?
        .get(0);
    events::commit_with(
        tx,
        tenant.id,
        "domain.revoked",
        serde_json::json!({ "domain": domain, "was_verified": was_verified }),
    )
    .await?;
    reread(&control, slug, &domain).await
}

/// Every claim, or one tenant's, by domain.
pub async fn list(targets: &Targets, slug: Option<&str>) -> Result<Vec<Domain>> {
    let control = targets.connect(&Database::Control).await?;
    let rows = match slug {
        Some(s) => {
            find(&control, s).await?;
            control
                .query(
                    &format!("{DOMAIN_SELECT} WHERE t.slug = $1 ORDER BY d.domain, d.created_at"),
                    &[&s],
                )
                .await
        }
        None => {
            control
                .query(&format!("{DOMAIN_SELECT} ORDER BY d.domain, t.slug"), &[])
                .await
        }
    }
    .doing("listing domains")?;
    Ok(rows.iter().map(domain_from_row).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_recognisable() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_ne!(a, b);
        for t in [a, b] {
            let hex = t.strip_prefix(TOKEN_PREFIX).unwrap();
            assert_eq!(hex.len(), 32);
            assert!(hex.bytes().all(|c| c.is_ascii_hexdigit()));
        }
    }
}
