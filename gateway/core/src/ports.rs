//! The ports: how the core reaches the world, one small trait per role.
//!
//! | port | role | component (Spin) | tests |
//! |---|---|---|---|
//! | [`TenantDirectory`] | the source of truth for tenants | control-plane Postgres | [`crate::fakes::MemoryDirectory`] |
//! | [`KvCache`] | a byte cache (tenants, verified tokens) | Spin key-value | [`crate::fakes::MemoryKv`] |
//! | [`AtomicCounters`] | increment / compare-and-swap, for rate limits | `wasi:keyvalue` atomics | [`crate::fakes::MemoryCounters`] |
//! | [`JwksSource`] | identity-provider keys | the `jwt_issuers` variable | a [`JwtVerifier`] itself |
//! | [`Clock`] | now, read once per request | the system clock | a fixed [`UnixMillis`] |
//!
//! [`Ports`] bundles the first four; the clock is passed on its own.

use crate::jwt::JwtVerifier;
pub use crate::kv::{CacheUnavailable, KvCache, UnixMillis};
pub use crate::tenant::{DirectoryUnavailable, TenantDirectory};

/// The ports a request may use.
#[derive(Debug)]
pub struct Ports<D, C, N, J> {
    /// Source of truth for tenants.
    pub directory: D,
    /// Cache store for tenants and verified tokens.
    pub cache: C,
    /// The rate-limit store (atomic counters or a Redis script).
    pub counters: N,
    /// Identity-provider keys.
    pub keys: J,
}

/// The clock. The core reads it once per request ([`crate::pipeline::handle`]) and passes
/// the instant to every stage.
pub trait Clock {
    /// Now.
    fn now(&self) -> UnixMillis;
}

/// A fixed instant is a clock that never moves (tests, benches, replays).
impl Clock for UnixMillis {
    fn now(&self) -> UnixMillis {
        *self
    }
}

impl<T: Clock + ?Sized> Clock for &T {
    fn now(&self) -> UnixMillis {
        (**self).now()
    }
}

/// The counter store could not answer. A stage that needs it decides whether to fail
/// closed (503) or open; the text is for logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("counter store unavailable: {0}")]
pub struct CounterUnavailable(pub String);

/// A counter's stored value: 8-byte little-endian `i64` (what `wasi:keyvalue` increments
/// store on Spin and on the project's host), or decimal text.
pub fn decode_counter(value: &[u8]) -> Option<i64> {
    match <[u8; 8]>::try_from(value) {
        Ok(bytes) => Some(i64::from_le_bytes(bytes)),
        Err(_) => std::str::from_utf8(value).ok()?.trim().parse().ok(),
    }
}

/// Atomic counters and values, shared by every gateway instance that shares the store.
pub trait AtomicCounters {
    /// Adds `delta` to the integer under `key` (absent counts as 0) and returns the new value.
    fn increment(&self, key: &str, delta: i64) -> Result<i64, CounterUnavailable>;
    /// The bytes under `key`, `None` when absent.
    fn current(&self, key: &str) -> Result<Option<Vec<u8>>, CounterUnavailable>;
    /// Stores `new` under `key` only if the value is still `expected` (`None`: absent).
    /// `Ok(false)` when another writer got there first.
    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, CounterUnavailable>;
    /// Reads `key`, lets `decide` choose the new value from what it read (`None`: store
    /// nothing), and stores it only if `key` still holds what was read. A store with a native
    /// compare-and-swap handle does this in one read and one swap.
    fn swap_from(&self, key: &str, decide: &mut Decide<'_>) -> Result<Swap, CounterUnavailable> {
        let current = self.current(key)?;
        match decide(current.as_deref()) {
            None => Ok(Swap::Declined),
            Some(new) => Ok(if self.compare_and_swap(key, current.as_deref(), &new)? {
                Swap::Stored
            } else {
                Swap::Raced
            }),
        }
    }
}

/// How [`AtomicCounters::swap_from`] chooses the new value from the one it read.
pub type Decide<'a> = dyn FnMut(Option<&[u8]>) -> Option<Vec<u8>> + 'a;

/// What [`AtomicCounters::swap_from`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swap {
    /// The new value is stored.
    Stored,
    /// `decide` chose not to store anything.
    Declined,
    /// Another writer changed the value first; nothing was stored.
    Raced,
}

impl<T: AtomicCounters + ?Sized> AtomicCounters for &T {
    fn increment(&self, key: &str, delta: i64) -> Result<i64, CounterUnavailable> {
        (**self).increment(key, delta)
    }
    fn current(&self, key: &str) -> Result<Option<Vec<u8>>, CounterUnavailable> {
        (**self).current(key)
    }
    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, CounterUnavailable> {
        (**self).compare_and_swap(key, expected, new)
    }
    fn swap_from(&self, key: &str, decide: &mut Decide<'_>) -> Result<Swap, CounterUnavailable> {
        (**self).swap_from(key, decide)
    }
}

/// The identity-provider keys could not be read: requests with a token fail closed (503).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("identity-provider keys unavailable: {0}")]
pub struct KeysUnavailable(pub String);

/// The identity-provider keys port: the issuers tokens are accepted from, with their keys
/// (JWKS) pinned. Asked only when a request carries a bearer token.
pub trait JwksSource {
    /// The verifier holding every accepted issuer and its keys.
    fn verifier(&self) -> Result<&JwtVerifier, KeysUnavailable>;
}

/// Static keys: the verifier is its own source.
impl JwksSource for JwtVerifier {
    fn verifier(&self) -> Result<&JwtVerifier, KeysUnavailable> {
        Ok(self)
    }
}

impl<T: JwksSource + ?Sized> JwksSource for &T {
    fn verifier(&self) -> Result<&JwtVerifier, KeysUnavailable> {
        (**self).verifier()
    }
}
