//! The in-memory key-value backend (`type = "spin"` with no `path`): lost when the
//! host stops. Read-modify-writes run under the map's lock.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::backend::{increment_decision, swap_decision, Decision, KvBackend, KvError};

/// A store in process memory.
#[derive(Default)]
pub struct MemoryStore {
    map: Mutex<HashMap<String, Vec<u8>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn map(&self) -> MutexGuard<'_, HashMap<String, Vec<u8>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn read_modify_write<R>(
        &self,
        key: &str,
        decide: impl FnOnce(Option<&[u8]>) -> Decision<R>,
    ) -> Result<R, KvError> {
        let mut m = self.map();
        let (new, out) = decide(m.get(key).map(Vec::as_slice))?;
        if let Some(v) = new {
            m.insert(key.to_owned(), v);
        }
        Ok(out)
    }
}

#[async_trait::async_trait]
impl KvBackend for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.map().get(key).cloned())
    }

    async fn set(&self, key: &str, value: Vec<u8>) -> Result<(), KvError> {
        self.map().insert(key.to_owned(), value);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.map().remove(key);
        Ok(())
    }

    async fn keys(&self) -> Result<Vec<String>, KvError> {
        let mut keys: Vec<String> = self.map().keys().cloned().collect();
        keys.sort();
        Ok(keys)
    }

    async fn set_many(&self, pairs: Vec<(String, Vec<u8>)>) -> Result<(), KvError> {
        let mut m = self.map();
        for (k, v) in pairs {
            m.insert(k, v);
        }
        Ok(())
    }

    async fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        self.read_modify_write(key, |cur| increment_decision(cur, delta))
    }

    async fn swap_if(
        &self,
        key: &str,
        expected: Option<Vec<u8>>,
        new: Vec<u8>,
    ) -> Result<bool, KvError> {
        self.read_modify_write(key, |cur| swap_decision(cur, expected.as_deref(), new))
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn memory_backend() {
        super::super::backend::tests::exercise(&super::MemoryStore::new()).await;
    }
}
