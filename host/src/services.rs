//! Services shared by all requests: key-value backends, Postgres pools, Redis clients.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context as _;

use crate::kv::KvBackend;
use crate::manifest::App;
use crate::pg::PgPools;
use crate::redis_host::RedisClients;
use crate::runtime_config::{KvStoreConfig, RuntimeConfig};

/// Shared services.
pub struct Services {
    /// Key-value stores by label (only the labels some component uses).
    pub kv: HashMap<String, Arc<KvBackend>>,
    /// Postgres connection pools, one per connection string.
    pub pg: PgPools,
    /// Redis clients, one per address.
    pub redis: RedisClients,
}

impl Services {
    /// Opens every key-value store a component names. A label with no backend is a
    /// start-up error naming it; `default` falls back to a SQLite file beside the
    /// manifest (`.spin/sqlite_key_value.db`), as Spin does.
    pub async fn new(
        app: &App,
        rc: &RuntimeConfig,
        limits: &crate::engine::Limits,
    ) -> anyhow::Result<Services> {
        let mut kv = HashMap::new();
        let mut sqlite_files = HashMap::new();
        for spec in app.components.values() {
            for label in &spec.key_value_stores {
                if kv.contains_key(label) {
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
                let backend = match cfg {
                    KvStoreConfig::Memory => KvBackend::memory(),
                    KvStoreConfig::Sqlite(path) => {
                        let conn = match sqlite_files.get(&path) {
                            Some(c) => Arc::clone(c),
                            None => {
                                let c = KvBackend::open_sqlite_file(&path).with_context(|| {
                                    format!(
                                        "opening key-value store `{label}` at {}",
                                        path.display()
                                    )
                                })?;
                                sqlite_files.insert(path.clone(), c.clone());
                                c
                            }
                        };
                        KvBackend::Sqlite {
                            conn,
                            label: label.clone(),
                        }
                    }
                    KvStoreConfig::Redis(url) => KvBackend::redis(&url)
                        .with_context(|| format!("key-value store `{label}`: invalid Redis URL"))?,
                };
                kv.insert(label.clone(), Arc::new(backend));
            }
        }
        Ok(Services {
            kv,
            pg: PgPools::new(limits.pg_pool_size).with_spin_compat(limits.spin_compat),
            redis: RedisClients::default(),
        })
    }
}
