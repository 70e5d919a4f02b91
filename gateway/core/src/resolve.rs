//! Tenant resolution (docs/architecture.md §3): which tenant does a normalised host name?
//!
//! Order: `{slug}.{apex}` subdomain (one label; reserved labels are not tenants) → verified
//! custom domain → on the apex host only, the organisation claim of a verified token.
//! Every way of not finding a tenant (no such slug, a reserved or nested label, an
//! unverified domain, an organisation claim naming nobody) is the same
//! [`ResolveError::UnknownTenant`], so responses cannot be used to enumerate tenants.

use crate::cache::TenantCache;
use crate::ids::{Hostname, TenantId, TenantSlug};
use crate::kv::{KvCache, UnixMillis};
use crate::tenant::{DirectoryUnavailable, TenantDirectory, TenantRecord};

/// Labels under the apex that are never tenant slugs (the contract's list).
pub use tenant_contract::ids::RESERVED_LABELS as DEFAULT_RESERVED;

/// The apex and the reserved labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverConfig {
    apex: Hostname,
    reserved: Vec<String>,
}

impl ResolverConfig {
    /// `apex` (for example `app.example` or `localhost`) with [`DEFAULT_RESERVED`].
    pub fn new(apex: Hostname) -> Self {
        Self {
            apex,
            reserved: DEFAULT_RESERVED.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// Replaces the reserved labels.
    pub fn with_reserved<S: Into<String>>(mut self, labels: impl IntoIterator<Item = S>) -> Self {
        self.reserved = labels.into_iter().map(Into::into).collect();
        self
    }

    /// The apex host.
    pub fn apex(&self) -> &Hostname {
        &self.apex
    }
}

/// What a host is, before any lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostClass {
    /// The apex itself: the tenant comes from a verified token's organisation claim.
    Apex,
    /// `{slug}.{apex}` with a non-reserved slug.
    Subdomain(TenantSlug),
    /// Under the apex but not a tenant: a reserved label, several labels, or not a slug.
    NotATenant,
    /// Anything else: a candidate custom domain.
    CustomDomain,
}

/// Classifies `host` against the apex. Pure, no lookup.
pub fn classify(host: &Hostname, config: &ResolverConfig) -> HostClass {
    let (h, apex) = (host.as_str(), config.apex.as_str());
    if h == apex {
        return HostClass::Apex;
    }
    let Some(sub) = h.strip_suffix(apex).and_then(|s| s.strip_suffix('.')) else {
        return HostClass::CustomDomain;
    };
    if sub.contains('.') || config.reserved.iter().any(|r| r == sub) {
        return HostClass::NotATenant;
    }
    sub.parse()
        .map_or(HostClass::NotATenant, HostClass::Subdomain)
}

/// How a token's organisation claim names a tenant (configurable per platform issuer).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TenantRef {
    /// By the tenant's id.
    Id(TenantId),
    /// By the tenant's slug.
    Slug(TenantSlug),
}

impl TenantRef {
    /// Whether `record` is the tenant this reference names.
    pub fn names(&self, record: &TenantRecord) -> bool {
        match self {
            TenantRef::Id(id) => *id == record.id,
            TenantRef::Slug(slug) => *slug == record.slug,
        }
    }
}

/// How the tenant was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolvedVia {
    /// `{slug}.{apex}`.
    Subdomain,
    /// A verified custom domain.
    CustomDomain,
    /// The apex host plus a verified token's organisation claim.
    ApexToken,
}

/// A tenant found for a host, in any lifecycle state (the lifecycle stage decides next).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedTenant {
    record: TenantRecord,
    host: Hostname,
    via: ResolvedVia,
}

impl ResolvedTenant {
    /// The directory record.
    pub fn record(&self) -> &TenantRecord {
        &self.record
    }
    /// The normalised host the request arrived on.
    pub fn host(&self) -> &Hostname {
        &self.host
    }
    /// How the tenant was found.
    pub fn via(&self) -> ResolvedVia {
        self.via
    }
    pub(crate) fn into_parts(self) -> (TenantRecord, Hostname, ResolvedVia) {
        (self.record, self.host, self.via)
    }
}

/// Why no tenant was resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// No tenant for this host (or token): the uniform 404 `unknown_tenant`.
    #[error("unknown tenant")]
    UnknownTenant,
    /// The apex was reached without a verified token naming an organisation: 401.
    #[error("the apex host needs a token naming an organisation")]
    OrganisationRequired,
    /// The directory could not answer: 503 `dependency_unavailable`.
    #[error(transparent)]
    Unavailable(#[from] DirectoryUnavailable),
}

/// Resolves `host` (classified as `class`) to a tenant.
///
/// `apex_org` is the organisation named by a verified token, used only when `class` is
/// [`HostClass::Apex`]; elsewhere it is ignored here and checked against the resolved
/// tenant by the authentication stage.
pub fn resolve<D: TenantDirectory, K: KvCache>(
    host: &Hostname,
    class: &HostClass,
    apex_org: Option<&TenantRef>,
    tenants: &TenantCache<D, K>,
    now: UnixMillis,
) -> Result<ResolvedTenant, ResolveError> {
    let (found, via) = match class {
        HostClass::Subdomain(slug) => (tenants.by_slug(slug, now)?, ResolvedVia::Subdomain),
        HostClass::CustomDomain => (tenants.by_domain(host, now)?, ResolvedVia::CustomDomain),
        HostClass::NotATenant => (None, ResolvedVia::Subdomain),
        HostClass::Apex => {
            let found = match apex_org.ok_or(ResolveError::OrganisationRequired)? {
                TenantRef::Id(id) => tenants.by_id(id, now)?,
                TenantRef::Slug(slug) => tenants.by_slug(slug, now)?,
            };
            (found, ResolvedVia::ApexToken)
        }
    };
    found
        .map(|record| ResolvedTenant {
            record,
            host: host.clone(),
            via,
        })
        .ok_or(ResolveError::UnknownTenant)
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
