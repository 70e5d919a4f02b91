//! The key-value backend trait every store implements, and the counter and
//! compare-and-swap decisions the memory and SQLite backends share.
//!
//! Counters written by `increment` are encoded as Spin encodes them: an 8-byte
//! little-endian `i64` in the memory and SQLite backends, decimal ASCII (`INCRBY`) in
//! Redis. Incrementing a stored value of another shape is [`KvError::NotACounter`] in the
//! memory and SQLite backends: the interface layer turns it into a trap, because Spin's
//! SQLite store panics there (`expect("incorrect length")`, also poisoning the store's
//! lock); in Redis it is Redis's own error, as in Spin.

/// Why a key-value operation failed. The interfaces show most of these to the guest as
/// `other(<the error's text>)`, as Spin does; the two on which Spin panics become traps.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// The store could not be reached (Redis down, a connection refused or timed out).
    #[error("key-value store unavailable: {0}")]
    Unavailable(String),
    /// The store refused or failed the operation; the backend's own text.
    #[error("{0}")]
    Backend(String),
    /// An answer over Spin's `MAX_HOST_BUFFERED_BYTES`.
    #[error("query result exceeds limit of {} bytes", super::MAX_RESULT_BYTES)]
    TooLarge,
    /// `increment` of a value that is not an 8-byte counter (memory and SQLite backends).
    #[error("the stored value is not a counter (8-byte little-endian i64)")]
    NotACounter,
    /// `increment` past `i64`'s range.
    #[error("counter overflow")]
    Overflow,
    /// Redis `get-many` finding keys: Spin's `KEYS` reply then fails to read as pairs
    /// inside redis-rs (an `unreachable!` panic in 0.32), so the request dies; the
    /// interface traps.
    #[error("get-many found keys: Spin's Redis store reads the `KEYS` reply as pairs and panics")]
    GetManyPanics,
}

impl KvError {
    /// The backend's own failure, as its text.
    pub(crate) fn backend(e: impl std::fmt::Display) -> KvError {
        KvError::Backend(e.to_string())
    }
}

/// One key-value store, shared by every request of the host.
///
/// Every method is atomic on its own; `increment` and `swap_if` are atomic
/// read-modify-writes in every backend.
#[async_trait::async_trait]
pub trait KvBackend: Send + Sync {
    /// The value of `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;

    /// Sets `key` to `value`.
    async fn set(&self, key: &str, value: Vec<u8>) -> Result<(), KvError>;

    /// Deletes `key` (no error if absent).
    async fn delete(&self, key: &str) -> Result<(), KvError>;

    /// Whether `key` exists.
    async fn exists(&self, key: &str) -> Result<bool, KvError> {
        Ok(self.get(key).await?.is_some())
    }

    /// Every key, sorted.
    async fn keys(&self) -> Result<Vec<String>, KvError>;

    /// Called when a guest opens the store (Spin's `StoreManager::get`): the Redis
    /// backend connects here, so an unreachable server fails `open` as in Spin.
    async fn ready(&self) -> Result<(), KvError> {
        Ok(())
    }

    /// The keys of `keys` that exist, with their values, as Spin's SQLite store answers
    /// `get-many` (absent keys are left out, not `none`).
    async fn get_many(&self, keys: Vec<String>) -> Result<Vec<(String, Option<Vec<u8>>)>, KvError> {
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            if let Some(v) = self.get(&k).await? {
                out.push((k, Some(v)));
            }
        }
        Ok(out)
    }

    /// Sets every pair (atomically where the backend can: one lock, one transaction,
    /// one `MSET`).
    async fn set_many(&self, pairs: Vec<(String, Vec<u8>)>) -> Result<(), KvError> {
        for (k, v) in pairs {
            self.set(&k, v).await?;
        }
        Ok(())
    }

    /// Deletes every key of `keys`.
    async fn delete_many(&self, keys: Vec<String>) -> Result<(), KvError> {
        for k in keys {
            self.delete(&k).await?;
        }
        Ok(())
    }

    /// Adds `delta` to the counter at `key` (absent counts as 0) and returns the result.
    async fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError>;

    /// Sets `key` to `new` only if its value is still `expected` (`None`: absent).
    /// Returns whether the swap happened.
    async fn swap_if(
        &self,
        key: &str,
        expected: Option<Vec<u8>>,
        new: Vec<u8>,
    ) -> Result<bool, KvError>;
}

/// A read-modify-write decision: the value to store (if any) and the caller's result.
pub(crate) type Decision<R> = Result<(Option<Vec<u8>>, R), KvError>;

fn parse_counter(v: &[u8]) -> Result<i64, KvError> {
    let bytes: [u8; 8] = v.try_into().map_err(|_| KvError::NotACounter)?;
    Ok(i64::from_le_bytes(bytes))
}

/// `increment` as a decision over the current value.
pub(crate) fn increment_decision(cur: Option<&[u8]>, delta: i64) -> Decision<i64> {
    let cur = cur.map(parse_counter).transpose()?.unwrap_or(0);
    let next = cur.checked_add(delta).ok_or(KvError::Overflow)?;
    Ok((Some(next.to_le_bytes().to_vec()), next))
}

/// `swap_if` as a decision over the current value.
pub(crate) fn swap_decision(
    cur: Option<&[u8]>,
    expected: Option<&[u8]>,
    new: Vec<u8>,
) -> Decision<bool> {
    if cur != expected {
        return Ok((None, false));
    }
    Ok((Some(new), true))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::KvBackend;

    /// The behaviour every backend shares.
    pub(crate) async fn exercise(b: &dyn KvBackend) {
        assert_eq!(b.get("a").await.unwrap(), None);
        b.set("a", 1i64.to_le_bytes().to_vec()).await.unwrap();
        assert!(b.exists("a").await.unwrap());
        assert_eq!(b.increment("a", 41).await.unwrap(), 42);
        assert_eq!(
            b.get("a").await.unwrap(),
            Some(42i64.to_le_bytes().to_vec())
        );
        assert_eq!(b.increment("n", -3).await.unwrap(), -3);
        b.set("s", b"text".to_vec()).await.unwrap();
        assert!(b.increment("s", 1).await.is_err());
        assert!(!b
            .swap_if("s", Some(b"other".to_vec()), b"x".to_vec())
            .await
            .unwrap());
        assert!(b
            .swap_if("s", Some(b"text".to_vec()), b"x".to_vec())
            .await
            .unwrap());
        assert!(!b.swap_if("s", None, b"y".to_vec()).await.unwrap());
        assert!(b.swap_if("new", None, b"y".to_vec()).await.unwrap());
        assert_eq!(b.keys().await.unwrap(), ["a", "n", "new", "s"]);
        b.delete("a").await.unwrap();
        assert!(!b.exists("a").await.unwrap());
    }
}
