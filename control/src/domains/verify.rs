//! `tenantgate domain verify`: looking for a claim's token and marking the claim verified.
//!
//! The check runs outside any transaction (DNS and HTTP take time); the claim is then marked verified
//! in a transaction holding the domain's lock, only if it is still the same pending claim and no
//! other tenant verified the domain meanwhile, with the audit event `domain.verified`. A failed
//! check says what it found instead and changes nothing.

use std::net::SocketAddr;
use std::time::Duration;

use super::checks::{check_dns, check_http, resolver};
use super::{claim, lock, normalise_domain, owner, reread, Domain, State, DELETED};
use crate::db::{Database, Targets};
use crate::error::{Error, Result};
use crate::events;
use crate::report::Doing as _;
use crate::tenant::find_live;

/// How `verify` may look for the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The TXT record only.
    Dns,
    /// The HTTP token only.
    Http,
    /// The TXT record, then the HTTP token.
    Any,
}

impl std::str::FromStr for Method {
    type Err = Error;

    fn from_str(s: &str) -> Result<Method> {
        match s {
            "dns" => Ok(Method::Dns),
            "http" => Ok(Method::Http),
            "any" => Ok(Method::Any),
            other => Err(Error::UnknownMethod(other.into())),
        }
    }
}

/// How `verify` reaches the outside world.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Which proofs count.
    pub method: Method,
    /// The DNS server to ask (default: the system's, `/etc/resolv.conf`).
    pub dns_server: Option<SocketAddr>,
    /// The port of the HTTP check (80 unless testing).
    pub http_port: u16,
    /// Fetch the HTTP token from loopback, private and link-local addresses too. Off by default: a
    /// public domain does not live there, and the check must not become a way to probe the platform's
    /// own network.
    pub allow_private_addresses: bool,
    /// Per look-up and per fetch.
    pub timeout: Duration,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            method: Method::Any,
            dns_server: None,
            http_port: 80,
            allow_private_addresses: false,
            timeout: Duration::from_secs(10),
        }
    }
}

/// What `verify` found.
#[derive(Debug, Clone)]
pub struct Verification {
    /// The claim, verified.
    pub domain: Domain,
    /// `dns` or `http`; `None` when it was verified already.
    pub method: Option<&'static str>,
}

/// Looks for the tenant's token (TXT record, then HTTP token, as `opts.method` allows) and marks
/// the claim verified. Fails, changing nothing, with what it found instead.
pub async fn verify(
    targets: &Targets,
    slug: &str,
    domain: &str,
    opts: &VerifyOptions,
) -> Result<Verification> {
    let domain = normalise_domain(domain)?;
    let mut control = targets.connect(&Database::Control).await?;
    let tenant = find_live(&control, slug, DELETED).await?;
    let Some(current) = claim(&control, slug, &domain).await? else {
        return Err(Error::DomainNotClaimed {
            domain,
            slug: slug.into(),
        });
    };
    match current.state {
        State::Verified => {
            return Ok(Verification {
                domain: current,
                method: None,
            })
        }
        State::Revoked => {
            return Err(Error::DomainRevoked {
                domain,
                slug: slug.into(),
            })
        }
        State::Pending => {}
    }
    if let Some(owner) = owner(&control, &domain).await? {
        return Err(Error::DomainTaken { domain, owner });
    }

    let resolver = resolver(opts)?;
    let mut found = None;
    let mut evidence = Vec::new();
    if matches!(opts.method, Method::Dns | Method::Any) {
        match check_dns(&resolver, &domain, &current.token).await {
            Ok(()) => found = Some("dns"),
            Err(e) => evidence.push(format!("DNS:  {e}")),
        }
    }
    if found.is_none() && matches!(opts.method, Method::Http | Method::Any) {
        match check_http(&resolver, &domain, &current.token, opts).await {
            Ok(()) => found = Some("http"),
            Err(e) => evidence.push(format!("HTTP: {e}")),
        }
    }
    let Some(method) = found else {
        return Err(Error::DomainNotVerified {
            instructions: current.instructions(),
            domain,
            slug: slug.into(),
            evidence,
        });
    };

    let tx = control
        .transaction()
        .await
        .doing("starting a transaction")?;
    lock(&tx, &domain).await?;
    if let Some(owner) = owner(&tx, &domain).await? {
        // Verified for another tenant while this one was being checked.
        return Err(Error::DomainTaken { domain, owner });
    }
    let n = tx
        .execute(
            "UPDATE tenantgate.tenant_domains SET verified_at = now() \
             WHERE tenant_id = $1 AND domain = $2 AND verification_token = $3 \
               AND verified_at IS NULL AND revoked_at IS NULL",
            &[&tenant.id, &domain, &current.token],
        )
        .await
        .doing(format_args!("marking {domain} verified"))?;
    if n != 1 {
        return Err(Error::ClaimChanged(domain));
    }
    events::commit_with(
        tx,
        tenant.id,
        "domain.verified",
        serde_json::json!({ "domain": domain, "method": method }),
    )
    .await?;
    let domain = reread(&control, slug, &domain).await?;
    Ok(Verification {
        domain,
        method: Some(method),
    })
}
