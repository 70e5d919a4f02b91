//! Tenant records and the [`TenantDirectory`] port.
//!
//! The directory is the source of truth (the control-plane database, through
//! `tenantgate.resolve_tenant_by_*()`); the gateway component implements it with Spin's
//! synchronous Postgres API and tests with [`crate::fakes::MemoryDirectory`].

use serde::{Deserialize, Serialize};

use crate::ids::{Hostname, TenantId, TenantSlug};

/// A tenant's lifecycle state (docs/architecture.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    /// Served normally.
    Active,
    /// Refused with 403 `tenant_suspended`; its data is kept.
    Suspended,
    /// Refused with the uniform 404 `unknown_tenant`, as if it never existed.
    Deleted,
}

/// Where a tenant's data lives (docs/architecture.md §5): the contract's one placement type.
pub use tenant_contract::Placement;

/// One tenant as the directory knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRecord {
    /// The tenant's id.
    pub id: TenantId,
    /// The tenant's slug (its subdomain label).
    pub slug: TenantSlug,
    /// Display name.
    pub name: String,
    /// Lifecycle state.
    pub status: TenantStatus,
    /// Plan name (`free`, `pro`, `enterprise`, ...).
    pub plan: String,
    /// Where its data lives.
    pub placement: Placement,
    /// Writes refused (for example during a move between placements).
    pub read_only: bool,
    /// Rate limits and quota (the plan's, with the tenant's overrides).
    #[serde(default)]
    pub limits: crate::limits::LimitPolicy,
    /// Signed-in requests counted in the control plane this month, when it was read.
    #[serde(default)]
    pub month_usage: u64,
    /// Whether the tenant has an identity provider, and whether it is the only way in.
    #[serde(default)]
    pub sso: SsoMode,
}

/// A tenant's single sign-on policy (`tenantgate.sso_mode()`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SsoMode {
    /// No identity provider: no login page, no sessions.
    #[default]
    None,
    /// Members may sign in with the tenant's IdP (and may still use bearer tokens).
    Sso,
    /// The IdP is the only way in: bearer tokens are refused with 403 `sso_required`.
    Enforced,
}

impl SsoMode {
    /// From `tenantgate.sso_mode()`'s text; anything unknown is `Enforced` (deny, never allow).
    pub fn from_text(text: &str) -> Self {
        match text {
            "none" => SsoMode::None,
            "sso" => SsoMode::Sso,
            _ => SsoMode::Enforced,
        }
    }
}

/// The directory could not answer (database down, timeout, malformed row). The request
/// fails closed with 503 `dependency_unavailable`. The text is for logs, never for clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tenant directory unavailable: {0}")]
pub struct DirectoryUnavailable(pub String);

/// The port to the tenant directory. Methods are synchronous (spin-sdk 5.2's Postgres is).
///
/// Contract: `Ok(None)` means "no such tenant" and is cached as a negative entry;
/// `Err` means "cannot tell" and is never cached. Records of every status are returned
/// (the lifecycle stage decides), but `by_domain` returns a tenant only for a domain that
/// is verified and not revoked.
pub trait TenantDirectory {
    /// The tenant whose slug is `slug`.
    fn by_slug(&self, slug: &TenantSlug) -> Result<Option<TenantRecord>, DirectoryUnavailable>;
    /// The tenant owning the verified, unrevoked custom domain `host`.
    fn by_domain(&self, host: &Hostname) -> Result<Option<TenantRecord>, DirectoryUnavailable>;
    /// The tenant whose id is `id`.
    fn by_id(&self, id: &TenantId) -> Result<Option<TenantRecord>, DirectoryUnavailable>;
    /// The live session `sid` (unrevoked, unexpired, its user still a member), `None`
    /// otherwise. A directory without sessions knows none.
    fn session(
        &self,
        sid: &uuid::Uuid,
    ) -> Result<Option<crate::sso::session::SessionRow>, DirectoryUnavailable> {
        let _ = sid;
        Ok(None)
    }
    /// The platform admin's active break-glass grant on the tenant, recording this access in
    /// the tenant's audit log; `None` without one. A directory without grants knows none.
    fn break_glass(
        &self,
        access: &crate::platform::BreakGlassAccess<'_>,
    ) -> Result<Option<crate::platform::BreakGlassGrant>, DirectoryUnavailable> {
        let _ = access;
        Ok(None)
    }
}

impl<T: TenantDirectory + ?Sized> TenantDirectory for &T {
    fn by_slug(&self, slug: &TenantSlug) -> Result<Option<TenantRecord>, DirectoryUnavailable> {
        (**self).by_slug(slug)
    }
    fn by_domain(&self, host: &Hostname) -> Result<Option<TenantRecord>, DirectoryUnavailable> {
        (**self).by_domain(host)
    }
    fn by_id(&self, id: &TenantId) -> Result<Option<TenantRecord>, DirectoryUnavailable> {
        (**self).by_id(id)
    }
    fn session(
        &self,
        sid: &uuid::Uuid,
    ) -> Result<Option<crate::sso::session::SessionRow>, DirectoryUnavailable> {
        (**self).session(sid)
    }
    fn break_glass(
        &self,
        access: &crate::platform::BreakGlassAccess<'_>,
    ) -> Result<Option<crate::platform::BreakGlassGrant>, DirectoryUnavailable> {
        (**self).break_glass(access)
    }
}
