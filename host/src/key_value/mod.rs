//! Key-value stores: a [`KvBackend`] trait with three backends ([`MemoryStore`],
//! [`SqliteStore`], [`RedisStore`]), and two guest interfaces over it:
//! `fermyon:spin/key-value` ([`spin`](self::spin)) and `wasi:keyvalue` store, atomics
//! and batch ([`wasi`](self::wasi)).
//!
//! The host opens every store some component names once, at start-up ([`open_stores`]).
//! Each component gets a [`KeyValue`] of its own: the stores of its `key_value_stores`
//! labels. A guest may open only those labels; any other label is `access-denied`
//! (whether or not it exists, so labels cannot be probed). One [`add_to_linker`] adds
//! both interfaces, reached through a [`KeyValueView`] of the store's data.
//!
//! Compare-and-swap compares values: `cas.new` reads the current value and `swap`
//! writes only if the value is still the one read (absent included), atomically in
//! each backend. Unlike Spin's stores, a conflict is always reported (Spin's SQLite
//! store upserts when the key was absent, or when `current` was never called; its Redis
//! store does not detect a conflict).
//!
//! As in Spin (`factor-key-value`, 3.6.3 and 4.x): a result over
//! [`MAX_RESULT_BYTES`] (128 MiB, Spin's `MAX_HOST_BUFFERED_BYTES`) is `other(..)`;
//! `increment` of a value that is not a counter in a memory or SQLite store traps
//! (Spin's SQLite store panics); batch operations on an empty list do nothing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use anyhow::Context as _;
use wasmtime::component::{HasData, Linker, ResourceTable};

use crate::manifest::App;
use crate::runtime_config::{KvStoreConfig, RuntimeConfig};

mod backend;
mod memory;
mod redis_store;
mod spin;
mod sqlite;
mod wasi;

pub use backend::{KvBackend, KvError};
pub use memory::MemoryStore;
pub use redis_store::RedisStore;
pub use sqlite::{open_file as open_sqlite_file, SqliteFile, SqliteStore};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        inline: "
            package tenantgate:key-value;
            world key-value {
                import fermyon:spin/key-value@2.0.0;
                import wasi:keyvalue/store@0.2.0-draft2;
                import wasi:keyvalue/atomics@0.2.0-draft2;
                import wasi:keyvalue/batch@0.2.0-draft2;
            }
        ",
        imports: { default: async | trappable },
        with: {
            "fermyon:spin/key-value.store": crate::key_value::SpinStore,
            "wasi:keyvalue/store.bucket": crate::key_value::Bucket,
            "wasi:keyvalue/atomics.cas": crate::key_value::Cas,
        },
    });
}

/// Every store some component of the app names, by label.
pub type Stores = HashMap<String, Arc<dyn KvBackend>>;

/// Opens every key-value store a component names. A label with no backend is a
/// start-up error naming it; `default` falls back to a SQLite file beside the
/// manifest (`.spin/sqlite_key_value.db`), as Spin does. Labels in one SQLite file
/// share one connection.
pub fn open_stores(app: &App, rc: &RuntimeConfig) -> anyhow::Result<Stores> {
    let mut stores: Stores = HashMap::new();
    let mut sqlite_files: HashMap<std::path::PathBuf, SqliteFile> = HashMap::new();
    for spec in app.components.values() {
        for label in &spec.key_value_stores {
            if stores.contains_key(label) {
                continue;
            }
            let cfg = match rc.key_value_stores.get(label) {
                Some(c) => c.clone(),
                None if label == "default" => {
                    KvStoreConfig::Sqlite(app.base_dir.join(".spin/sqlite_key_value.db"))
                }
                None => anyhow::bail!(
                    "unknown key_value_stores label \"{label}\" for component \"{}\": \
                     define [key_value_store.{label}] in the runtime config file",
                    spec.id
                ),
            };
            let backend: Arc<dyn KvBackend> = match cfg {
                KvStoreConfig::Memory => Arc::new(MemoryStore::new()),
                KvStoreConfig::Sqlite(path) => {
                    let conn = match sqlite_files.get(&path) {
                        Some(c) => c.clone(),
                        None => {
                            let c = open_sqlite_file(&path).with_context(|| {
                                format!("opening key-value store `{label}` at {}", path.display())
                            })?;
                            sqlite_files.insert(path.clone(), c.clone());
                            c
                        }
                    };
                    Arc::new(SqliteStore::new(conn, label))
                }
                KvStoreConfig::Redis(url) => Arc::new(
                    RedisStore::new(&url)
                        .with_context(|| format!("key-value store `{label}`: invalid Redis URL"))?,
                ),
            };
            stores.insert(label.clone(), backend);
        }
    }
    Ok(stores)
}

/// What one component may open: its `key_value_stores` labels and their stores.
pub struct KeyValue {
    allowed: HashSet<String>,
    stores: Stores,
}

impl KeyValue {
    /// The stores of `labels` among `all`.
    pub fn new(labels: &[String], all: &Stores) -> KeyValue {
        KeyValue {
            allowed: labels.iter().cloned().collect(),
            stores: labels
                .iter()
                .filter_map(|l| Some((l.clone(), all.get(l)?.clone())))
                .collect(),
        }
    }

    async fn open(&self, label: &str) -> Result<Arc<dyn KvBackend>, OpenError> {
        if !self.allowed.contains(label) {
            return Err(OpenError::AccessDenied);
        }
        let store = self
            .stores
            .get(label)
            .cloned()
            .ok_or(OpenError::NoSuchStore)?;
        store.ready().await.map_err(OpenError::Other)?;
        Ok(store)
    }
}

/// Why a label could not be opened.
enum OpenError {
    AccessDenied,
    NoSuchStore,
    /// The backend is unavailable (Spin: `other(..)` from the store manager).
    Other(KvError),
}

/// Spin's `MAX_HOST_BUFFERED_BYTES`: the most a `get`, `get-keys`, `get-many` or
/// `cas.current` may return.
pub const MAX_RESULT_BYTES: usize = 128 << 20;

/// Spin's check of a value's size (`size_of::<Option<Vec<u8>>>() + len`).
fn value_within_limit(v: &Option<Vec<u8>>) -> Result<(), KvError> {
    within_limit(std::mem::size_of::<Option<Vec<u8>>>() + v.as_ref().map_or(0, Vec::len))
}

/// Spin's check of a key list's size.
fn keys_within_limit(keys: &[String]) -> Result<(), KvError> {
    within_limit(
        std::mem::size_of::<Vec<String>>()
            + keys
                .iter()
                .map(|k| std::mem::size_of::<String>() + k.len())
                .sum::<usize>(),
    )
}

/// Spin's check of a `get-many` answer's size.
fn pairs_within_limit(pairs: &[(String, Option<Vec<u8>>)]) -> Result<(), KvError> {
    within_limit(
        std::mem::size_of::<Vec<(String, Option<Vec<u8>>)>>()
            + pairs
                .iter()
                .map(|(k, v)| {
                    std::mem::size_of::<(String, Option<Vec<u8>>)>()
                        + k.len()
                        + v.as_ref().map_or(0, Vec::len)
                })
                .sum::<usize>(),
    )
}

fn within_limit(bytes: usize) -> Result<(), KvError> {
    if bytes > MAX_RESULT_BYTES {
        return Err(KvError::TooLarge);
    }
    Ok(())
}

/// `get-many`'s result at the interface: where Spin's Redis store panics, a trap.
fn get_many_outcome<T>(r: Result<T, KvError>) -> wasmtime::Result<Result<T, KvError>> {
    match r {
        Err(e @ KvError::GetManyPanics) => {
            Err(wasmtime::Error::msg(format!("key-value get-many: {e}")))
        }
        other => Ok(other),
    }
}

/// `increment`'s result at the interface: a value that is not a counter traps, as
/// Spin's SQLite store panics on it.
fn increment_outcome(r: Result<i64, KvError>) -> wasmtime::Result<Result<i64, KvError>> {
    match r {
        Err(e @ KvError::NotACounter) => Err(wasmtime::Error::msg(format!(
            "key-value increment: {e} (Spin's key-value store panics here)"
        ))),
        other => Ok(other),
    }
}

/// The key-value part of one store's data: the component's stores and the table its
/// open stores, buckets and compare-and-swap handles live in.
pub struct KeyValueView<'a> {
    /// The component's stores.
    pub ctx: &'a KeyValue,
    /// The store's resource table.
    pub table: &'a mut ResourceTable,
}

struct KeyValueData;

impl HasData for KeyValueData {
    type Data<'a> = KeyValueView<'a>;
}

/// `fermyon:spin/key-value.store`.
pub struct SpinStore {
    backend: Arc<dyn KvBackend>,
}

/// `wasi:keyvalue/store.bucket`.
pub struct Bucket {
    backend: Arc<dyn KvBackend>,
}

/// `wasi:keyvalue/atomics.cas`: a key and the value read when it was created.
pub struct Cas {
    backend: Arc<dyn KvBackend>,
    key: String,
    current: Option<Vec<u8>>,
}

/// Adds `fermyon:spin/key-value` and `wasi:keyvalue` (store, atomics, batch) to
/// `linker`; `get` finds the key-value view in a store's data.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> KeyValueView<'_>,
) -> anyhow::Result<()> {
    use bindings::fermyon::spin::key_value as spin_kv;
    use bindings::wasi::keyvalue::{atomics, batch, store};
    spin_kv::add_to_linker::<T, KeyValueData>(linker, get)?;
    store::add_to_linker::<T, KeyValueData>(linker, get)?;
    atomics::add_to_linker::<T, KeyValueData>(linker, get)?;
    batch::add_to_linker::<T, KeyValueData>(linker, get)?;
    Ok(())
}

#[cfg(test)]
mod limit_tests {
    #[test]
    fn results_over_spins_buffer_limit_are_refused() {
        assert!(super::within_limit(super::MAX_RESULT_BYTES).is_ok());
        let err = super::within_limit(super::MAX_RESULT_BYTES + 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "query result exceeds limit of 134217728 bytes"
        );
        assert!(super::value_within_limit(&Some(vec![0; 16])).is_ok());
        assert!(super::keys_within_limit(&["a".into()]).is_ok());
        assert!(super::pairs_within_limit(&[("a".into(), None)]).is_ok());
    }
}
