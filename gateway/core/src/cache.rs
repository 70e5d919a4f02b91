//! A read-through cache of tenant lookups over the [`TenantDirectory`] (docs/architecture.md §3).
//!
//! - Positive and negative answers are cached, each for at most its TTL (default 5 s, so a
//!   suspension, deletion or new tenant is visible within 5 s everywhere).
//! - The directory is the source of truth: a cache read or write failure is a miss, and the
//!   directory answers.
//! - A directory failure is an error (503), never answered from an expired entry.
//! - The store holds at most `slots` entries (see [`SlotCache`]).

use serde::{de::DeserializeOwned, Serialize};

use crate::ids::{Hostname, TenantId, TenantSlug};
use crate::kv::{KvCache, SlotCache, UnixMillis};
use crate::tenant::{DirectoryUnavailable, TenantDirectory, TenantRecord};

/// Staleness bounds and size of the tenant cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantCacheConfig {
    /// How long a found tenant is served from cache. Default 5,000 ms.
    pub positive_ttl_ms: u64,
    /// How long "no such tenant" is served from cache. Default 5,000 ms.
    pub negative_ttl_ms: u64,
    /// Store keys at most (one per slot). Default 65,536.
    pub slots: u32,
}

impl Default for TenantCacheConfig {
    fn default() -> Self {
        Self {
            positive_ttl_ms: 5_000,
            negative_ttl_ms: 5_000,
            slots: 65_536,
        }
    }
}

/// The tenant directory behind a key-value cache.
#[derive(Debug)]
pub struct TenantCache<D, K> {
    directory: D,
    kv: K,
    slots: SlotCache,
    config: TenantCacheConfig,
}

enum Key<'a> {
    Slug(&'a TenantSlug),
    Domain(&'a Hostname),
    Id(&'a TenantId),
}

impl Key<'_> {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Key::Slug(s) => format!("s:{s}"),
            Key::Domain(h) => format!("d:{h}"),
            Key::Id(i) => format!("i:{i}"),
        }
        .into_bytes()
    }
}

impl<D: TenantDirectory, K: KvCache> TenantCache<D, K> {
    /// A cache over `directory` stored in `kv`.
    pub fn new(directory: D, kv: K, config: TenantCacheConfig) -> Self {
        let max_ttl = config.positive_ttl_ms.max(config.negative_ttl_ms);
        let slots = SlotCache::new("tg:tenant", config.slots, max_ttl);
        Self {
            directory,
            kv,
            slots,
            config,
        }
    }

    /// The directory itself (uncached).
    pub fn directory(&self) -> &D {
        &self.directory
    }

    /// [`TenantDirectory::by_slug`], cached.
    pub fn by_slug(
        &self,
        slug: &TenantSlug,
        now: UnixMillis,
    ) -> Result<Option<TenantRecord>, DirectoryUnavailable> {
        self.read_through(Key::Slug(slug), now, || self.directory.by_slug(slug))
    }

    /// [`TenantDirectory::by_domain`], cached.
    pub fn by_domain(
        &self,
        host: &Hostname,
        now: UnixMillis,
    ) -> Result<Option<TenantRecord>, DirectoryUnavailable> {
        self.read_through(Key::Domain(host), now, || self.directory.by_domain(host))
    }

    /// [`TenantDirectory::by_id`], cached.
    pub fn by_id(
        &self,
        id: &TenantId,
        now: UnixMillis,
    ) -> Result<Option<TenantRecord>, DirectoryUnavailable> {
        self.read_through(Key::Id(id), now, || self.directory.by_id(id))
    }

    /// Drops the cached slug and id entries of a tenant (call on any change to it).
    /// Best effort: a failed delete still expires within the TTL.
    pub fn invalidate(&self, tenant: &TenantRecord) {
        self.slots
            .delete(&self.kv, &Key::Slug(&tenant.slug).bytes());
        self.slots.delete(&self.kv, &Key::Id(&tenant.id).bytes());
    }

    /// Drops the cached entry of a custom domain (call when it is verified or revoked).
    pub fn invalidate_domain(&self, host: &Hostname) {
        self.slots.delete(&self.kv, &Key::Domain(host).bytes());
    }

    fn read_through(
        &self,
        key: Key<'_>,
        now: UnixMillis,
        fetch: impl FnOnce() -> Result<Option<TenantRecord>, DirectoryUnavailable>,
    ) -> Result<Option<TenantRecord>, DirectoryUnavailable> {
        let key = key.bytes();
        if let Some(hit) = self.slots.get(&self.kv, &key, now).and_then(|p| decode(&p)) {
            return Ok(hit);
        }
        let found = fetch()?;
        let ttl = match found {
            Some(_) => self.config.positive_ttl_ms,
            None => self.config.negative_ttl_ms,
        };
        if ttl > 0 {
            if let Ok(payload) = serde_json::to_vec(&found) {
                self.slots
                    .put(&self.kv, &key, &payload, now, now.plus_millis(ttl));
            }
        }
        Ok(found)
    }
}

fn decode<T: DeserializeOwned + Serialize>(payload: &[u8]) -> Option<T> {
    serde_json::from_slice(payload).ok()
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
