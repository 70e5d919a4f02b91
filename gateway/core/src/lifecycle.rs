//! The lifecycle gate: only an active tenant gets past [`admit`].
//!
//! [`ActiveTenant`] can only be built here, so every later stage holds proof that the
//! tenant was active when the request was admitted.

use crate::ids::Hostname;
use crate::resolve::{ResolvedTenant, ResolvedVia};
use crate::tenant::{TenantRecord, TenantStatus};

/// A tenant admitted for this request (status `active`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveTenant {
    record: TenantRecord,
    host: Hostname,
    via: ResolvedVia,
}

impl ActiveTenant {
    /// The directory record (its status is [`TenantStatus::Active`]).
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
}

/// Why a resolved tenant was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    /// 403 `tenant_suspended`; the tenant's data is kept.
    #[error("tenant suspended")]
    Suspended,
    /// A deleted tenant answers exactly like one that never existed: 404 `unknown_tenant`.
    #[error(transparent)]
    Unknown(#[from] UnknownTenant),
}

/// Marker for the uniform unknown-tenant refusal from the lifecycle stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown tenant")]
pub struct UnknownTenant;

/// Admits an active tenant; refuses a suspended one (403) and hides a deleted one (404).
pub fn admit(tenant: ResolvedTenant) -> Result<ActiveTenant, LifecycleError> {
    let (record, host, via) = tenant.into_parts();
    match record.status {
        TenantStatus::Active => Ok(ActiveTenant { record, host, via }),
        TenantStatus::Suspended => Err(LifecycleError::Suspended),
        TenantStatus::Deleted => Err(UnknownTenant.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{TenantCache, TenantCacheConfig};
    use crate::fakes::{sample_tenant, MemoryDirectory, MemoryKv};
    use crate::kv::UnixMillis;
    use crate::resolve::{classify, resolve, ResolverConfig};

    fn admit_with(status: TenantStatus) -> Result<ActiveTenant, LifecycleError> {
        let dir = MemoryDirectory::default();
        let mut t = sample_tenant("acme");
        t.status = status;
        dir.upsert(t);
        let kv = MemoryKv::default();
        let cache = TenantCache::new(&dir, &kv, TenantCacheConfig::default());
        let host: Hostname = "acme.app.example".parse().unwrap();
        let class = classify(&host, &ResolverConfig::new("app.example".parse().unwrap()));
        admit(resolve(&host, &class, None, &cache, UnixMillis(0)).unwrap())
    }

    #[test]
    fn only_active_tenants_are_admitted() {
        let active = admit_with(TenantStatus::Active).unwrap();
        assert_eq!(active.record().slug.as_str(), "acme");
        assert_eq!(active.via(), ResolvedVia::Subdomain);
        assert_eq!(
            admit_with(TenantStatus::Suspended),
            Err(LifecycleError::Suspended)
        );
        assert_eq!(
            admit_with(TenantStatus::Deleted),
            Err(LifecycleError::Unknown(UnknownTenant))
        );
    }
}
