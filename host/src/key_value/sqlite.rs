//! The SQLite key-value backend (`type = "spin"` with a `path`, and Spin's `default`
//! store): one table keyed by `(store, key)`, so several labels can share a file.
//! Calls run on the blocking pool; read-modify-writes in an immediate transaction.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::OptionalExtension as _;

use super::backend::{increment_decision, swap_decision, Decision, KvBackend, KvError};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS spin_key_value (
    store TEXT NOT NULL,
    key   TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (store, key)
)";

/// An open SQLite file, shared by the stores that live in it.
pub type SqliteFile = Arc<Mutex<rusqlite::Connection>>;

/// One store (`label`) in a SQLite file.
pub struct SqliteStore {
    conn: SqliteFile,
    label: String,
}

/// Opens (creating if needed) the SQLite database at `path`.
pub fn open_file(path: &Path) -> anyhow::Result<SqliteFile> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.execute_batch(SCHEMA)?;
    Ok(Arc::new(Mutex::new(conn)))
}

fn read(c: &rusqlite::Connection, label: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
    c.query_row(
        "SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2",
        (label, key),
        |r| r.get::<_, Vec<u8>>(0),
    )
    .optional()
    .map_err(KvError::backend)
}

fn write(c: &rusqlite::Connection, label: &str, key: &str, value: &[u8]) -> Result<(), KvError> {
    c.execute(
        "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
        (label, key, value),
    )
    .map(drop)
    .map_err(KvError::backend)
}

impl SqliteStore {
    /// The store `label` in the open file `conn`.
    pub fn new(conn: SqliteFile, label: &str) -> SqliteStore {
        SqliteStore {
            conn,
            label: label.to_owned(),
        }
    }

    /// Runs `f` with the connection, this store's label and `key`, on the blocking pool.
    async fn with<R: Send + 'static>(
        &self,
        key: &str,
        f: impl FnOnce(&mut rusqlite::Connection, &str, &str) -> Result<R, KvError> + Send + 'static,
    ) -> Result<R, KvError> {
        let (conn, label, key) = (self.conn.clone(), self.label.clone(), key.to_owned());
        tokio::task::spawn_blocking(move || {
            let mut c = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut c, &label, &key)
        })
        .await
        .map_err(KvError::backend)?
    }

    async fn read_modify_write<R: Send + 'static>(
        &self,
        key: &str,
        decide: impl FnOnce(Option<&[u8]>) -> Decision<R> + Send + 'static,
    ) -> Result<R, KvError> {
        self.with(key, move |c, label, key| {
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(KvError::backend)?;
            let (new, out) = decide(read(&tx, label, key)?.as_deref())?;
            if let Some(v) = new {
                write(&tx, label, key, &v)?;
                tx.commit().map_err(KvError::backend)?;
            }
            Ok(out)
        })
        .await
    }
}

#[async_trait::async_trait]
impl KvBackend for SqliteStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.with(key, |c, label, key| read(c, label, key)).await
    }

    async fn set(&self, key: &str, value: Vec<u8>) -> Result<(), KvError> {
        self.with(key, move |c, label, key| write(c, label, key, &value))
            .await
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.with(key, |c, label, key| {
            c.execute(
                "DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2",
                (label, key),
            )
            .map(drop)
            .map_err(KvError::backend)
        })
        .await
    }

    async fn keys(&self) -> Result<Vec<String>, KvError> {
        let mut keys = self
            .with("", |c, label, _| {
                let mut st = c
                    .prepare("SELECT key FROM spin_key_value WHERE store = ?1")
                    .map_err(KvError::backend)?;
                let rows = st
                    .query_map([label], |r| r.get::<_, String>(0))
                    .map_err(KvError::backend)?;
                rows.collect::<Result<Vec<_>, _>>()
                    .map_err(KvError::backend)
            })
            .await?;
        keys.sort();
        Ok(keys)
    }

    async fn set_many(&self, pairs: Vec<(String, Vec<u8>)>) -> Result<(), KvError> {
        // One transaction, as Spin's SQLite store.
        self.with("", move |c, label, _| {
            let tx = c.transaction().map_err(KvError::backend)?;
            for (k, v) in &pairs {
                write(&tx, label, k, v)?;
            }
            tx.commit().map_err(KvError::backend)
        })
        .await
    }

    async fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        self.read_modify_write(key, move |cur| increment_decision(cur, delta))
            .await
    }

    async fn swap_if(
        &self,
        key: &str,
        expected: Option<Vec<u8>>,
        new: Vec<u8>,
    ) -> Result<bool, KvError> {
        self.read_modify_write(key, move |cur| swap_decision(cur, expected.as_deref(), new))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_backend_keeps_labels_apart() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_file(&dir.path().join("kv.db")).unwrap();
        let one = SqliteStore::new(conn.clone(), "one");
        let two = SqliteStore::new(conn, "two");
        super::super::backend::tests::exercise(&one).await;
        assert_eq!(two.keys().await.unwrap(), Vec::<String>::new());
    }
}
