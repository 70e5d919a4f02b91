//! The key-value backend trait every store implements, and the counter and
//! compare-and-swap decisions the memory and SQLite backends share.
//!
//! Counters written by `increment` are encoded as Spin encodes them: an 8-byte
//! little-endian `i64` in the memory and SQLite backends, decimal ASCII (`INCRBY`) in
//! Redis. A stored value of another shape is an error, never a crash.

/// A backend error, shown to the guest as `other(..)`.
pub type KvError = String;

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
    let bytes: [u8; 8] = v
        .try_into()
        .map_err(|_| "the stored value is not a counter (8-byte little-endian i64)".to_string())?;
    Ok(i64::from_le_bytes(bytes))
}

/// `increment` as a decision over the current value.
pub(crate) fn increment_decision(cur: Option<&[u8]>, delta: i64) -> Decision<i64> {
    let cur = cur.map(parse_counter).transpose()?.unwrap_or(0);
    let next = cur.checked_add(delta).ok_or("counter overflow")?;
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
