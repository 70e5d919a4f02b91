//! In-memory implementations of the ports, for tests, benchmarks and native tools.
//!
//! Each can be switched into a failing mode to exercise the fail-closed (directory,
//! counters) and fail-open-to-the-source (cache) paths; the directory counts its calls.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::ids::{Hostname, TenantId, TenantSlug};
use crate::kv::{CacheUnavailable, KvCache};
use crate::ports::{AtomicCounters, CounterUnavailable};
use crate::tenant::{DirectoryUnavailable, TenantDirectory, TenantRecord};

/// A [`KvCache`] in a `HashMap`. Unbounded: bounding is [`crate::kv::SlotCache`]'s job.
#[derive(Debug, Default)]
pub struct MemoryKv {
    map: Mutex<HashMap<String, Vec<u8>>>,
    failing: AtomicBool,
}

impl MemoryKv {
    /// While `failing`, every call returns [`CacheUnavailable`].
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// How many keys are stored.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no key is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<u8>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn check(&self) -> Result<(), CacheUnavailable> {
        if self.failing.load(Ordering::SeqCst) {
            Err(CacheUnavailable("memory kv set to fail".into()))
        } else {
            Ok(())
        }
    }
}

impl KvCache for MemoryKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheUnavailable> {
        self.check()?;
        Ok(self.lock().get(key).cloned())
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), CacheUnavailable> {
        self.check()?;
        self.lock().insert(key.to_owned(), value.to_vec());
        Ok(())
    }
    fn delete(&self, key: &str) -> Result<(), CacheUnavailable> {
        self.check()?;
        self.lock().remove(key);
        Ok(())
    }
}

/// [`AtomicCounters`] in a `HashMap`: integers are stored as 8-byte little-endian `i64`s,
/// as Spin's and the project host's `wasi:keyvalue` increments do.
#[derive(Debug, Default)]
pub struct MemoryCounters {
    map: Mutex<HashMap<String, Vec<u8>>>,
    failing: AtomicBool,
}

impl MemoryCounters {
    /// While `failing`, every call returns [`CounterUnavailable`].
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// Every stored key and its value, sorted by key: what a test compares to tell whether
    /// a request spent anything.
    pub fn snapshot(&self) -> Vec<(String, Vec<u8>)> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let mut entries: Vec<_> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        entries.sort();
        entries
    }

    fn lock(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, HashMap<String, Vec<u8>>>, CounterUnavailable> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(CounterUnavailable("memory counters set to fail".into()));
        }
        Ok(self.map.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl AtomicCounters for MemoryCounters {
    fn increment(&self, key: &str, delta: i64) -> Result<i64, CounterUnavailable> {
        let mut map = self.lock()?;
        let current = match map.get(key) {
            None => 0,
            Some(v) => <[u8; 8]>::try_from(v.as_slice())
                .map(i64::from_le_bytes)
                .map_err(|_| CounterUnavailable(format!("{key} is not a counter")))?,
        };
        let next = current.saturating_add(delta);
        map.insert(key.to_owned(), next.to_le_bytes().to_vec());
        Ok(next)
    }

    fn current(&self, key: &str) -> Result<Option<Vec<u8>>, CounterUnavailable> {
        Ok(self.lock()?.get(key).cloned())
    }

    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, CounterUnavailable> {
        let mut map = self.lock()?;
        if map.get(key).map(Vec::as_slice) != expected {
            return Ok(false);
        }
        map.insert(key.to_owned(), new.to_vec());
        Ok(true)
    }
}

/// A [`TenantDirectory`] over a list of records and verified domains.
#[derive(Debug, Default)]
pub struct MemoryDirectory {
    tenants: Mutex<Vec<TenantRecord>>,
    by_slug: Mutex<HashMap<TenantSlug, usize>>,
    domains: Mutex<HashMap<Hostname, TenantId>>,
    sessions: Mutex<HashMap<uuid::Uuid, crate::sso::session::SessionRow>>,
    grants: Mutex<HashMap<(TenantId, uuid::Uuid), crate::platform::BreakGlassGrant>>,
    accesses: Mutex<Vec<(TenantId, uuid::Uuid, String)>>,
    failing: AtomicBool,
    calls: AtomicUsize,
}

impl MemoryDirectory {
    /// Adds or replaces (by id) a tenant.
    pub fn upsert(&self, record: TenantRecord) {
        let mut tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        let mut by_slug = self.by_slug.lock().unwrap_or_else(|p| p.into_inner());
        match tenants.iter().position(|t| t.id == record.id) {
            Some(i) => {
                by_slug.remove(&tenants[i].slug);
                by_slug.insert(record.slug.clone(), i);
                tenants[i] = record;
            }
            None => {
                by_slug.insert(record.slug.clone(), tenants.len());
                tenants.push(record);
            }
        }
    }

    /// Adds a live session (`None`: ends it).
    pub fn set_session(&self, sid: uuid::Uuid, row: Option<crate::sso::session::SessionRow>) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        match row {
            Some(r) => sessions.insert(sid, r),
            None => sessions.remove(&sid),
        };
    }

    /// Grants (`None`: revokes) a platform admin break-glass access to a tenant.
    pub fn set_grant(
        &self,
        tenant: TenantId,
        admin: uuid::Uuid,
        grant: Option<crate::platform::BreakGlassGrant>,
    ) {
        let mut grants = self.grants.lock().unwrap_or_else(|p| p.into_inner());
        match grant {
            Some(g) => grants.insert((tenant, admin), g),
            None => grants.remove(&(tenant, admin)),
        };
    }

    /// The break-glass accesses recorded: (tenant, admin, "METHOD path").
    pub fn accesses(&self) -> Vec<(TenantId, uuid::Uuid, String)> {
        self.accesses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Maps a verified custom domain to a tenant.
    pub fn add_domain(&self, host: Hostname, tenant: TenantId) {
        self.domains
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(host, tenant);
    }

    /// While `failing`, every lookup returns [`DirectoryUnavailable`].
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// How many lookups were made (including failed ones).
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn enter(&self) -> Result<(), DirectoryUnavailable> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.failing.load(Ordering::SeqCst) {
            Err(DirectoryUnavailable("memory directory set to fail".into()))
        } else {
            Ok(())
        }
    }

    fn find(&self, pred: impl Fn(&TenantRecord) -> bool) -> Option<TenantRecord> {
        let tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        tenants.iter().find(|t| pred(t)).cloned()
    }
}

impl TenantDirectory for MemoryDirectory {
    fn by_slug(&self, slug: &TenantSlug) -> Result<Option<TenantRecord>, DirectoryUnavailable> {
        self.enter()?;
        let index = self
            .by_slug
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(slug)
            .copied();
        let tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        Ok(index.map(|i| tenants[i].clone()))
    }
    fn by_domain(&self, host: &Hostname) -> Result<Option<TenantRecord>, DirectoryUnavailable> {
        self.enter()?;
        let id = self
            .domains
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(host)
            .copied();
        Ok(id.and_then(|id| self.find(|t| t.id == id)))
    }
    fn by_id(&self, id: &TenantId) -> Result<Option<TenantRecord>, DirectoryUnavailable> {
        self.enter()?;
        Ok(self.find(|t| t.id == *id))
    }
    fn session(
        &self,
        sid: &uuid::Uuid,
    ) -> Result<Option<crate::sso::session::SessionRow>, DirectoryUnavailable> {
        self.enter()?;
        Ok(self
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(sid)
            .cloned())
    }
    fn break_glass(
        &self,
        access: &crate::platform::BreakGlassAccess<'_>,
    ) -> Result<Option<crate::platform::BreakGlassGrant>, DirectoryUnavailable> {
        self.enter()?;
        let grant = self
            .grants
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(access.tenant, access.admin.id))
            .cloned();
        if grant.is_some() {
            self.accesses
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((
                    access.tenant,
                    access.admin.id,
                    format!("{} {}", access.method, access.path),
                ));
        }
        Ok(grant)
    }
}

/// An active, shared-placement tenant named `slug`, whose id is derived from the slug
/// (the same slug always gets the same id). Panics if `slug` is not a valid slug.
pub fn sample_tenant(slug: &str) -> TenantRecord {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(slug.as_bytes());
    let bytes: [u8; 16] = digest[..16].try_into().expect("16 bytes");
    TenantRecord {
        id: TenantId::from(uuid::Builder::from_random_bytes(bytes).into_uuid()),
        slug: slug.parse().expect("sample_tenant: valid slug"),
        name: slug.to_owned(),
        status: crate::tenant::TenantStatus::Active,
        plan: "free".to_owned(),
        placement: crate::tenant::Placement::Shared,
        read_only: false,
        limits: crate::limits::LimitPolicy::default(),
        month_usage: 0,
        sso: crate::tenant::SsoMode::None,
    }
}

/// Spends plans over compare-and-swap, as the component's key-value counters do.
impl crate::ratelimit::RateLimitStore for MemoryCounters {
    fn apply(
        &self,
        plan: &crate::ratelimit::LimitPlan,
        now_us: u64,
    ) -> Result<crate::ratelimit::Verdict, CounterUnavailable> {
        crate::ratelimit::apply_with_counters(self, plan, now_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_increment_and_swap_atomically() {
        let c = MemoryCounters::default();
        assert_eq!(c.increment("a", 2), Ok(2));
        assert_eq!(c.increment("a", -5), Ok(-3));
        assert_eq!(
            c.current("a").unwrap(),
            Some((-3i64).to_le_bytes().to_vec())
        );
        assert_eq!(c.compare_and_swap("b", None, b"1"), Ok(true));
        assert_eq!(
            c.compare_and_swap("b", None, b"2"),
            Ok(false),
            "lost the race"
        );
        assert_eq!(c.compare_and_swap("b", Some(b"1"), b"2"), Ok(true));
        assert!(c.increment("b", 1).is_err(), "text is not a counter");
        c.compare_and_swap("x", None, b"tat").unwrap();
        assert!(c.increment("x", 1).is_err(), "not a counter");
        c.set_failing(true);
        assert!(c.current("a").is_err());
    }
}
