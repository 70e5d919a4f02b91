//! The [`KvCache`] port and a bounded, expiring cache on top of it.
//!
//! Spin's key-value store has no TTL and no eviction, and the gateway must never let a
//! client grow it without bound (a flood of random hostnames would otherwise leave one
//! negative entry each). [`SlotCache`] therefore maps every logical key onto one of a fixed
//! number of slots (a direct-mapped cache): the store never holds more than `slots` keys
//! per namespace, a colliding key simply evicts the previous entry, and each stored value
//! carries its full logical key and its expiry, so a collision or a stale entry reads as a
//! miss, never as someone else's data.
//!
//! The store is trusted (only the gateway writes it), but never needed: every read or
//! write failure is a miss, and callers fall back to the source of truth.

use sha2::{Digest, Sha256};

/// A time in milliseconds since the Unix epoch (the contract's). The core never reads a
/// clock: the component reads it once per request and passes it in.
pub use tenant_contract::UnixMillis;

/// The key-value store could not be read or written. Always treated as a cache miss.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cache store unavailable: {0}")]
pub struct CacheUnavailable(pub String);

/// The port to a byte key-value store (Spin key-value in the component).
pub trait KvCache {
    /// The value under `key`, `Ok(None)` when absent.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheUnavailable>;
    /// Stores `value` under `key`, replacing any previous value.
    fn set(&self, key: &str, value: &[u8]) -> Result<(), CacheUnavailable>;
    /// Removes `key`; removing an absent key succeeds.
    fn delete(&self, key: &str) -> Result<(), CacheUnavailable>;
}

impl<T: KvCache + ?Sized> KvCache for &T {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheUnavailable> {
        (**self).get(key)
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), CacheUnavailable> {
        (**self).set(key, value)
    }
    fn delete(&self, key: &str) -> Result<(), CacheUnavailable> {
        (**self).delete(key)
    }
}

const MAGIC: &[u8; 3] = b"tg1";
const HEADER: usize = MAGIC.len() + 8 + 2;

/// A direct-mapped, expiring cache over a [`KvCache`]: at most `slots` store keys per
/// namespace, entries valid while `now < expires_at <= now + max_ttl`.
///
/// The upper bound on `expires_at` means an entry written under a longer TTL (an older
/// configuration, another instance's clock running ahead) cannot outlive the current
/// staleness bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotCache {
    namespace: &'static str,
    slots: u32,
    max_ttl_ms: u64,
}

impl SlotCache {
    /// A cache of `slots` entries (at least 1) in `namespace`, entries living at most
    /// `max_ttl_ms`.
    pub fn new(namespace: &'static str, slots: u32, max_ttl_ms: u64) -> Self {
        Self {
            namespace,
            slots: slots.max(1),
            max_ttl_ms,
        }
    }

    /// The store key for a logical key: `<namespace>:<slot>`.
    fn slot_key(&self, key: &[u8]) -> String {
        let digest = Sha256::new()
            .chain_update(self.namespace.as_bytes())
            .chain_update([0])
            .chain_update(key)
            .finalize();
        let n = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
        format!("{}:{:x}", self.namespace, n % u64::from(self.slots))
    }

    /// The payload stored for `key`, if present, unexpired and not evicted. Store errors,
    /// malformed values and other keys' entries all read as `None`.
    pub fn get(&self, kv: &impl KvCache, key: &[u8], now: UnixMillis) -> Option<Vec<u8>> {
        let mut value = kv.get(&self.slot_key(key)).ok()??;
        if value.len() < HEADER || &value[..3] != MAGIC {
            return None;
        }
        let expires = u64::from_be_bytes(value[3..11].try_into().ok()?);
        let key_len = usize::from(u16::from_be_bytes(value[11..13].try_into().ok()?));
        let fresh = now.0 < expires && expires <= now.0.saturating_add(self.max_ttl_ms);
        if !fresh || value.get(HEADER..HEADER + key_len)? != key {
            return None;
        }
        Some(value.split_off(HEADER + key_len))
    }

    /// Stores `payload` for `key` until `expires_at` (clamped to `now + max_ttl`). Keys over
    /// 64 KiB are not cached. Returns whether the store accepted the write.
    pub fn put(
        &self,
        kv: &impl KvCache,
        key: &[u8],
        payload: &[u8],
        now: UnixMillis,
        expires_at: UnixMillis,
    ) -> bool {
        let Ok(key_len) = u16::try_from(key.len()) else {
            return false;
        };
        let expires = expires_at.0.min(now.0.saturating_add(self.max_ttl_ms));
        let mut value = Vec::with_capacity(HEADER + key.len() + payload.len());
        value.extend_from_slice(MAGIC);
        value.extend_from_slice(&expires.to_be_bytes());
        value.extend_from_slice(&key_len.to_be_bytes());
        value.extend_from_slice(key);
        value.extend_from_slice(payload);
        kv.set(&self.slot_key(key), &value).is_ok()
    }

    /// Removes `key`'s slot (and whatever entry occupies it). Returns whether the store
    /// accepted the delete.
    pub fn delete(&self, kv: &impl KvCache, key: &[u8]) -> bool {
        kv.delete(&self.slot_key(key)).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::MemoryKv;

    #[test]
    fn entries_expire_and_never_outlive_the_bound() {
        let kv = MemoryKv::default();
        let c = SlotCache::new("t", 16, 1_000);
        assert!(c.put(&kv, b"k", b"v", UnixMillis(0), UnixMillis(500)));
        assert_eq!(
            c.get(&kv, b"k", UnixMillis(499)).as_deref(),
            Some(&b"v"[..])
        );
        assert_eq!(c.get(&kv, b"k", UnixMillis(500)), None);
        // Written with a far expiry: clamped to now + max_ttl.
        c.put(&kv, b"k", b"v", UnixMillis(0), UnixMillis(u64::MAX));
        assert!(c.get(&kv, b"k", UnixMillis(999)).is_some());
        assert_eq!(c.get(&kv, b"k", UnixMillis(1_000)), None);
        // An entry from a longer-TTL configuration is not trusted beyond this one's bound.
        let short = SlotCache::new("t", 16, 100);
        assert_eq!(short.get(&kv, b"k", UnixMillis(0)), None);
    }

    #[test]
    fn the_store_holds_at_most_slots_keys_and_collisions_read_as_misses() {
        let kv = MemoryKv::default();
        let c = SlotCache::new("t", 4, 1_000);
        for i in 0..100u32 {
            c.put(&kv, &i.to_be_bytes(), b"v", UnixMillis(0), UnixMillis(900));
        }
        assert!(kv.len() <= 4);
        let hits = (0..100u32)
            .filter(|i| c.get(&kv, &i.to_be_bytes(), UnixMillis(1)).is_some())
            .count();
        assert!((1..=4).contains(&hits), "{hits}");
    }

    #[test]
    fn a_failing_store_is_a_miss() {
        let kv = MemoryKv::default();
        let c = SlotCache::new("t", 4, 1_000);
        kv.set_failing(true);
        assert!(!c.put(&kv, b"k", b"v", UnixMillis(0), UnixMillis(10)));
        assert_eq!(c.get(&kv, b"k", UnixMillis(0)), None);
        kv.set("t:0", b"garbage").ok();
        kv.set_failing(false);
        for slot in 0..4 {
            kv.set(&format!("t:{slot:x}"), b"garbage").unwrap();
        }
        assert_eq!(c.get(&kv, b"k", UnixMillis(0)), None);
    }
}
