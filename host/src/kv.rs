//! Key-value stores: `fermyon:spin/key-value` and `wasi:keyvalue` (store, atomics,
//! batch) over three backends (memory, SQLite file, Redis).
//!
//! A component may open only the labels in its `key_value_stores`; any other label is
//! `access-denied` (whether or not it exists, so labels cannot be probed).
//!
//! Counters written by `atomics.increment` are encoded as Spin encodes them: an 8-byte
//! little-endian `i64` in the memory and SQLite backends, decimal ASCII (`INCRBY`) in
//! Redis. A stored value of another shape is an error, never a crash.
//! Compare-and-swap compares values: `cas.new` reads the current value and `swap`
//! writes only if the value is still the one read (absent included), atomically in
//! each backend. Unlike Spin's Redis store, a conflict is always reported.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use redis::AsyncCommands as _;
use rusqlite::OptionalExtension as _;
use wasmtime::component::{HasSelf, Linker, Resource};

use crate::bindings::fermyon::spin::key_value as spin_kv;
use crate::bindings::wasi::keyvalue::{atomics, batch, store as wasi_kv};
use crate::state::HostState;

/// A key-value backend shared by every request of the host.
pub enum KvBackend {
    /// In process memory.
    Memory(Mutex<HashMap<String, Vec<u8>>>),
    /// One store (`label`) in a SQLite file; several labels may share a file.
    Sqlite {
        conn: Arc<Mutex<rusqlite::Connection>>,
        label: String,
    },
    /// A Redis server, connected on first use (so a Redis outage is an error value
    /// for the requests that need it, not a host that will not start).
    Redis(LazyRedis),
}

/// A Redis connection made on first use and re-made after failures.
pub struct LazyRedis {
    client: redis::Client,
    conn: tokio::sync::OnceCell<redis::aio::ConnectionManager>,
}

impl LazyRedis {
    async fn conn(&self) -> Result<redis::aio::ConnectionManager, KvError> {
        let cfg = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(std::time::Duration::from_secs(2))
            .set_response_timeout(std::time::Duration::from_secs(2))
            .set_number_of_retries(1);
        self.conn
            .get_or_try_init(|| {
                redis::aio::ConnectionManager::new_with_config(self.client.clone(), cfg)
            })
            .await
            .cloned()
            .map_err(|e| format!("key-value store unavailable: {e}"))
    }
}

/// A backend error, shown to the guest as `other(..)`.
pub type KvError = String;

fn parse_counter(v: &[u8]) -> Result<i64, KvError> {
    let bytes: [u8; 8] = v
        .try_into()
        .map_err(|_| "the stored value is not a counter (8-byte little-endian i64)".to_string())?;
    Ok(i64::from_le_bytes(bytes))
}

const SQLITE_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS spin_key_value (
    store TEXT NOT NULL,
    key   TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (store, key)
)";

fn sqlite_read(
    c: &rusqlite::Connection,
    label: &str,
    key: &str,
) -> Result<Option<Vec<u8>>, KvError> {
    c.query_row(
        "SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2",
        (label, key),
        |r| r.get::<_, Vec<u8>>(0),
    )
    .optional()
    .map_err(|e| e.to_string())
}

fn sqlite_write(
    c: &rusqlite::Connection,
    label: &str,
    key: &str,
    value: &[u8],
) -> Result<(), KvError> {
    c.execute(
        "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
        (label, key, value),
    )
    .map(drop)
    .map_err(|e| e.to_string())
}

/// A read-modify-write decision: the value to store (if any) and the caller's result.
type Decision<R> = Result<(Option<Vec<u8>>, R), KvError>;

const REDIS_CAS: &str = r#"
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if cur ~= ARGV[2] then return 0 end
else
  if cur then return 0 end
end
redis.call('SET', KEYS[1], ARGV[3])
return 1
"#;

impl KvBackend {
    /// An empty in-memory store.
    pub fn memory() -> KvBackend {
        KvBackend::Memory(Mutex::new(HashMap::new()))
    }

    /// Opens (creating if needed) the SQLite database at `path`.
    pub fn open_sqlite_file(path: &Path) -> anyhow::Result<Arc<Mutex<rusqlite::Connection>>> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let conn = rusqlite::Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.execute_batch(SQLITE_SCHEMA)?;
        Ok(Arc::new(Mutex::new(conn)))
    }

    /// A Redis backend for `url`; the URL is checked now, the connection made on first use.
    pub fn redis(url: &str) -> anyhow::Result<KvBackend> {
        Ok(KvBackend::Redis(LazyRedis {
            client: redis::Client::open(url)?,
            conn: tokio::sync::OnceCell::new(),
        }))
    }

    async fn sqlite<R: Send + 'static>(
        conn: &Arc<Mutex<rusqlite::Connection>>,
        f: impl FnOnce(&mut rusqlite::Connection) -> Result<R, KvError> + Send + 'static,
    ) -> Result<R, KvError> {
        let conn = conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut c)
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// The value of `key`, if any.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        match self {
            KvBackend::Memory(m) => Ok(m.lock().unwrap().get(key).cloned()),
            KvBackend::Sqlite { conn, label } => {
                let (label, key) = (label.clone(), key.to_owned());
                Self::sqlite(conn, move |c| sqlite_read(c, &label, &key)).await
            }
            KvBackend::Redis(r) => r.conn().await?.get(key).await.map_err(|e| e.to_string()),
        }
    }

    /// Sets `key` to `value`.
    pub async fn set(&self, key: &str, value: Vec<u8>) -> Result<(), KvError> {
        match self {
            KvBackend::Memory(m) => {
                m.lock().unwrap().insert(key.to_owned(), value);
                Ok(())
            }
            KvBackend::Sqlite { conn, label } => {
                let (label, key) = (label.clone(), key.to_owned());
                Self::sqlite(conn, move |c| sqlite_write(c, &label, &key, &value)).await
            }
            KvBackend::Redis(r) => r
                .conn()
                .await?
                .set(key, value)
                .await
                .map_err(|e| e.to_string()),
        }
    }

    /// Deletes `key` (no error if absent).
    pub async fn delete(&self, key: &str) -> Result<(), KvError> {
        match self {
            KvBackend::Memory(m) => {
                m.lock().unwrap().remove(key);
                Ok(())
            }
            KvBackend::Sqlite { conn, label } => {
                let (label, key) = (label.clone(), key.to_owned());
                Self::sqlite(conn, move |c| {
                    c.execute(
                        "DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2",
                        (&label, &key),
                    )
                    .map(drop)
                    .map_err(|e| e.to_string())
                })
                .await
            }
            KvBackend::Redis(r) => r.conn().await?.del(key).await.map_err(|e| e.to_string()),
        }
    }

    /// Whether `key` exists.
    pub async fn exists(&self, key: &str) -> Result<bool, KvError> {
        match self {
            KvBackend::Redis(r) => r.conn().await?.exists(key).await.map_err(|e| e.to_string()),
            _ => Ok(self.get(key).await?.is_some()),
        }
    }

    /// Every key, sorted.
    pub async fn keys(&self) -> Result<Vec<String>, KvError> {
        let mut keys = match self {
            KvBackend::Memory(m) => m.lock().unwrap().keys().cloned().collect(),
            KvBackend::Sqlite { conn, label } => {
                let label = label.clone();
                Self::sqlite(conn, move |c| {
                    let mut st = c
                        .prepare("SELECT key FROM spin_key_value WHERE store = ?1")
                        .map_err(|e| e.to_string())?;
                    let rows = st
                        .query_map([&label], |r| r.get::<_, String>(0))
                        .map_err(|e| e.to_string())?;
                    rows.collect::<Result<Vec<_>, _>>()
                        .map_err(|e| e.to_string())
                })
                .await?
            }
            KvBackend::Redis(r) => {
                let mut conn = r.conn().await?;
                let mut out = Vec::new();
                let mut cursor: u64 = 0;
                loop {
                    let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("COUNT")
                        .arg(1000)
                        .query_async(&mut conn)
                        .await
                        .map_err(|e| e.to_string())?;
                    out.extend(batch);
                    if next == 0 {
                        break;
                    }
                    cursor = next;
                }
                out
            }
        };
        keys.sort();
        Ok(keys)
    }

    /// Atomically reads `key`, lets `decide` pick the value to store (or none), and
    /// stores it: under the map's lock in memory, in an immediate transaction in SQLite.
    async fn read_modify_write<R: Send + 'static>(
        &self,
        key: &str,
        decide: impl FnOnce(Option<&[u8]>) -> Decision<R> + Send + 'static,
    ) -> Result<R, KvError> {
        match self {
            KvBackend::Memory(m) => {
                let mut m = m.lock().unwrap();
                let (new, out) = decide(m.get(key).map(Vec::as_slice))?;
                if let Some(v) = new {
                    m.insert(key.to_owned(), v);
                }
                Ok(out)
            }
            KvBackend::Sqlite { conn, label } => {
                let (label, key) = (label.clone(), key.to_owned());
                Self::sqlite(conn, move |c| {
                    let tx = c
                        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                        .map_err(|e| e.to_string())?;
                    let (new, out) = decide(sqlite_read(&tx, &label, &key)?.as_deref())?;
                    if let Some(v) = new {
                        sqlite_write(&tx, &label, &key, &v)?;
                        tx.commit().map_err(|e| e.to_string())?;
                    }
                    Ok(out)
                })
                .await
            }
            KvBackend::Redis(_) => Err("read-modify-write is done by Redis itself".into()),
        }
    }

    /// Adds `delta` to the counter at `key` (absent counts as 0) and returns the result.
    pub async fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        match self {
            KvBackend::Redis(r) => r
                .conn()
                .await?
                .incr(key, delta)
                .await
                .map_err(|e| e.to_string()),
            _ => {
                self.read_modify_write(key, move |cur| {
                    let cur = cur.map(parse_counter).transpose()?.unwrap_or(0);
                    let next = cur.checked_add(delta).ok_or("counter overflow")?;
                    Ok((Some(next.to_le_bytes().to_vec()), next))
                })
                .await
            }
        }
    }

    /// Sets `key` to `new` only if its value is still `expected` (`None`: absent).
    /// Returns whether the swap happened.
    pub async fn swap_if(
        &self,
        key: &str,
        expected: Option<Vec<u8>>,
        new: Vec<u8>,
    ) -> Result<bool, KvError> {
        match self {
            KvBackend::Redis(r) => {
                let (flag, exp) = match expected {
                    Some(v) => ("1", v),
                    None => ("0", Vec::new()),
                };
                let swapped: i64 = redis::Script::new(REDIS_CAS)
                    .key(key)
                    .arg(flag)
                    .arg(exp)
                    .arg(new)
                    .invoke_async(&mut r.conn().await?)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(swapped == 1)
            }
            _ => {
                self.read_modify_write(key, move |cur| {
                    if cur != expected.as_deref() {
                        return Ok((None, false));
                    }
                    Ok((Some(new), true))
                })
                .await
            }
        }
    }
}

/// `fermyon:spin/key-value.store`.
pub struct SpinStore {
    backend: Arc<KvBackend>,
}

/// `wasi:keyvalue/store.bucket`.
pub struct Bucket {
    backend: Arc<KvBackend>,
}

/// `wasi:keyvalue/atomics.cas`: a key and the value read when it was created.
pub struct Cas {
    backend: Arc<KvBackend>,
    key: String,
    current: Option<Vec<u8>>,
}

/// Adds every key-value interface to `linker`.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    spin_kv::add_to_linker::<_, HasSelf<HostState>>(linker, |s| s)?;
    wasi_kv::add_to_linker::<_, HasSelf<HostState>>(linker, |s| s)?;
    atomics::add_to_linker::<_, HasSelf<HostState>>(linker, |s| s)?;
    batch::add_to_linker::<_, HasSelf<HostState>>(linker, |s| s)?;
    Ok(())
}

/// Why a label could not be opened.
enum OpenError {
    AccessDenied,
    NoSuchStore,
}

impl HostState {
    fn open_label(&self, label: &str) -> Result<Arc<KvBackend>, OpenError> {
        if !self.component.kv_labels.contains(label) {
            return Err(OpenError::AccessDenied);
        }
        self.services
            .kv
            .get(label)
            .cloned()
            .ok_or(OpenError::NoSuchStore)
    }
}

fn spin_err(e: KvError) -> spin_kv::Error {
    spin_kv::Error::Other(e)
}

fn wasi_err(e: KvError) -> wasi_kv::Error {
    wasi_kv::Error::Other(e)
}

impl spin_kv::Host for HostState {}

impl spin_kv::HostStore for HostState {
    async fn open(
        &mut self,
        label: String,
    ) -> wasmtime::Result<Result<Resource<SpinStore>, spin_kv::Error>> {
        let backend = match self.open_label(&label) {
            Ok(b) => b,
            Err(OpenError::AccessDenied) => return Ok(Err(spin_kv::Error::AccessDenied)),
            Err(OpenError::NoSuchStore) => return Ok(Err(spin_kv::Error::NoSuchStore)),
        };
        Ok(Ok(self.table.push(SpinStore { backend })?))
    }

    async fn get(
        &mut self,
        s: Resource<SpinStore>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, spin_kv::Error>> {
        let b = self.table.get(&s)?.backend.clone();
        Ok(b.get(&key).await.map_err(spin_err))
    }

    async fn set(
        &mut self,
        s: Resource<SpinStore>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), spin_kv::Error>> {
        let b = self.table.get(&s)?.backend.clone();
        Ok(b.set(&key, value).await.map_err(spin_err))
    }

    async fn delete(
        &mut self,
        s: Resource<SpinStore>,
        key: String,
    ) -> wasmtime::Result<Result<(), spin_kv::Error>> {
        let b = self.table.get(&s)?.backend.clone();
        Ok(b.delete(&key).await.map_err(spin_err))
    }

    async fn exists(
        &mut self,
        s: Resource<SpinStore>,
        key: String,
    ) -> wasmtime::Result<Result<bool, spin_kv::Error>> {
        let b = self.table.get(&s)?.backend.clone();
        Ok(b.exists(&key).await.map_err(spin_err))
    }

    async fn get_keys(
        &mut self,
        s: Resource<SpinStore>,
    ) -> wasmtime::Result<Result<Vec<String>, spin_kv::Error>> {
        let b = self.table.get(&s)?.backend.clone();
        Ok(b.keys().await.map_err(spin_err))
    }

    async fn drop(&mut self, s: Resource<SpinStore>) -> wasmtime::Result<()> {
        self.table.delete(s)?;
        Ok(())
    }
}

impl wasi_kv::Host for HostState {
    async fn open(
        &mut self,
        identifier: String,
    ) -> wasmtime::Result<Result<Resource<Bucket>, wasi_kv::Error>> {
        let backend = match self.open_label(&identifier) {
            Ok(b) => b,
            Err(OpenError::AccessDenied) => return Ok(Err(wasi_kv::Error::AccessDenied)),
            Err(OpenError::NoSuchStore) => return Ok(Err(wasi_kv::Error::NoSuchStore)),
        };
        Ok(Ok(self.table.push(Bucket { backend })?))
    }
}

impl wasi_kv::HostBucket for HostState {
    async fn get(
        &mut self,
        b: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, wasi_kv::Error>> {
        let b = self.table.get(&b)?.backend.clone();
        Ok(b.get(&key).await.map_err(wasi_err))
    }

    async fn set(
        &mut self,
        b: Resource<Bucket>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), wasi_kv::Error>> {
        let b = self.table.get(&b)?.backend.clone();
        Ok(b.set(&key, value).await.map_err(wasi_err))
    }

    async fn delete(
        &mut self,
        b: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<(), wasi_kv::Error>> {
        let b = self.table.get(&b)?.backend.clone();
        Ok(b.delete(&key).await.map_err(wasi_err))
    }

    async fn exists(
        &mut self,
        b: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<bool, wasi_kv::Error>> {
        let b = self.table.get(&b)?.backend.clone();
        Ok(b.exists(&key).await.map_err(wasi_err))
    }

    async fn list_keys(
        &mut self,
        b: Resource<Bucket>,
        cursor: Option<String>,
    ) -> wasmtime::Result<Result<wasi_kv::KeyResponse, wasi_kv::Error>> {
        let b = self.table.get(&b)?.backend.clone();
        if cursor.is_some() {
            return Ok(Err(wasi_kv::Error::Other(
                "cursors are not supported: list-keys returns every key at once".into(),
            )));
        }
        Ok(b.keys()
            .await
            .map(|keys| wasi_kv::KeyResponse { keys, cursor: None })
            .map_err(wasi_err))
    }

    async fn drop(&mut self, b: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(b)?;
        Ok(())
    }
}

impl atomics::Host for HostState {
    async fn increment(
        &mut self,
        b: Resource<Bucket>,
        key: String,
        delta: i64,
    ) -> wasmtime::Result<Result<i64, wasi_kv::Error>> {
        let b = self.table.get(&b)?.backend.clone();
        Ok(b.increment(&key, delta).await.map_err(wasi_err))
    }

    async fn swap(
        &mut self,
        cas: Resource<Cas>,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), atomics::CasError>> {
        let Cas {
            backend,
            key,
            current,
        } = self.table.delete(cas)?;
        match backend.swap_if(&key, current.clone(), value).await {
            Ok(true) => Ok(Ok(())),
            Ok(false) => {
                // Hand the guest a fresh cas over the value now stored, so it can retry.
                let now = backend.get(&key).await.ok().flatten();
                let fresh = self.table.push(Cas {
                    backend,
                    key,
                    current: now,
                })?;
                Ok(Err(atomics::CasError::CasFailed(fresh)))
            }
            Err(e) => Ok(Err(atomics::CasError::StoreError(wasi_err(e)))),
        }
    }
}

impl atomics::HostCas for HostState {
    async fn new(
        &mut self,
        b: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<Resource<Cas>, wasi_kv::Error>> {
        let backend = self.table.get(&b)?.backend.clone();
        let current = match backend.get(&key).await {
            Ok(v) => v,
            Err(e) => return Ok(Err(wasi_err(e))),
        };
        Ok(Ok(self.table.push(Cas {
            backend,
            key,
            current,
        })?))
    }

    async fn current(
        &mut self,
        cas: Resource<Cas>,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, wasi_kv::Error>> {
        Ok(Ok(self.table.get(&cas)?.current.clone()))
    }

    async fn drop(&mut self, cas: Resource<Cas>) -> wasmtime::Result<()> {
        self.table.delete(cas)?;
        Ok(())
    }
}

impl batch::Host for HostState {
    async fn get_many(
        &mut self,
        b: Resource<Bucket>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<Vec<(String, Option<Vec<u8>>)>, wasi_kv::Error>> {
        let b = self.table.get(&b)?.backend.clone();
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            match b.get(&k).await {
                Ok(v) => out.push((k, v)),
                Err(e) => return Ok(Err(wasi_err(e))),
            }
        }
        Ok(Ok(out))
    }

    async fn set_many(
        &mut self,
        b: Resource<Bucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> wasmtime::Result<Result<(), wasi_kv::Error>> {
        let b = self.table.get(&b)?.backend.clone();
        for (k, v) in key_values {
            if let Err(e) = b.set(&k, v).await {
                return Ok(Err(wasi_err(e)));
            }
        }
        Ok(Ok(()))
    }

    async fn delete_many(
        &mut self,
        b: Resource<Bucket>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<(), wasi_kv::Error>> {
        let b = self.table.get(&b)?.backend.clone();
        for k in keys {
            if let Err(e) = b.delete(&k).await {
                return Ok(Err(wasi_err(e)));
            }
        }
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn exercise(b: &KvBackend) {
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

    #[tokio::test]
    async fn memory_backend() {
        exercise(&KvBackend::memory()).await;
    }

    #[tokio::test]
    async fn sqlite_backend_keeps_labels_apart() {
        let dir = tempfile::tempdir().unwrap();
        let conn = KvBackend::open_sqlite_file(&dir.path().join("kv.db")).unwrap();
        let one = KvBackend::Sqlite {
            conn: conn.clone(),
            label: "one".into(),
        };
        let two = KvBackend::Sqlite {
            conn,
            label: "two".into(),
        };
        exercise(&one).await;
        assert_eq!(two.keys().await.unwrap(), Vec::<String>::new());
    }
}
