//! `--runtime-config-file`: a Spin-style `runtime-config.toml` choosing the backend of
//! each key-value store.
//!
//! ```toml
//! [key_value_store.default]      # SQLite file (Spin's default backend)
//! type = "spin"
//! path = ".spin/sqlite_key_value.db"
//!
//! [key_value_store.cache]        # in memory: `type = "spin"` with no path
//! type = "spin"
//!
//! [key_value_store.limits]       # Redis
//! type = "redis"
//! url = "redis://127.0.0.1:6379"
//! ```
//!
//! Relative paths resolve against the directory of the runtime config file. Without
//! a file, `default` is a SQLite file at `.spin/sqlite_key_value.db` beside `spin.toml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A validated runtime config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Key-value stores by label.
    pub key_value_stores: BTreeMap<String, KvStoreConfig>,
}

/// The backend of one key-value store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvStoreConfig {
    /// In process memory; lost when the host stops.
    Memory,
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// A Redis server.
    Redis(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    key_value_store: BTreeMap<String, RawKv>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
enum RawKv {
    #[serde(rename = "spin")]
    Spin {
        #[serde(default)]
        path: Option<PathBuf>,
    },
    #[serde(rename = "redis")]
    Redis { url: String },
}

impl RuntimeConfig {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> anyhow::Result<RuntimeConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read runtime config {}: {e}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, dir)
            .map_err(|e| anyhow::anyhow!("invalid runtime config {}: {e}", path.display()))
    }

    /// Parses runtime config text; relative paths resolve against `dir`.
    pub fn parse(text: &str, dir: &Path) -> Result<RuntimeConfig, String> {
        let raw: Raw = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut key_value_stores = BTreeMap::new();
        for (label, kv) in raw.key_value_store {
            let cfg = match kv {
                RawKv::Spin { path: None } => KvStoreConfig::Memory,
                RawKv::Spin { path: Some(p) } => {
                    KvStoreConfig::Sqlite(if p.is_absolute() { p } else { dir.join(p) })
                }
                RawKv::Redis { url } => {
                    if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                        return Err(format!(
                            "key_value_store.{label}: url must start with redis:// or rediss://"
                        ));
                    }
                    KvStoreConfig::Redis(url)
                }
            };
            key_value_stores.insert(label, cfg);
        }
        Ok(RuntimeConfig { key_value_stores })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_backend() {
        let rc = RuntimeConfig::parse(
            r#"
            [key_value_store.default]
            type = "spin"
            path = "data/kv.db"
            [key_value_store.mem]
            type = "spin"
            [key_value_store.shared]
            type = "redis"
            url = "redis://127.0.0.1:6379"
            "#,
            Path::new("/app"),
        )
        .unwrap();
        assert_eq!(
            rc.key_value_stores["default"],
            KvStoreConfig::Sqlite("/app/data/kv.db".into())
        );
        assert_eq!(rc.key_value_stores["mem"], KvStoreConfig::Memory);
        assert_eq!(
            rc.key_value_stores["shared"],
            KvStoreConfig::Redis("redis://127.0.0.1:6379".into())
        );
    }

    #[test]
    fn refuses_unknown_types_and_fields() {
        assert!(
            RuntimeConfig::parse("[key_value_store.x]\ntype = \"dynamo\"\n", Path::new("/"))
                .is_err()
        );
        assert!(RuntimeConfig::parse(
            "[key_value_store.x]\ntype = \"spin\"\nfoo = 1\n",
            Path::new("/")
        )
        .is_err());
        assert!(RuntimeConfig::parse(
            "[key_value_store.x]\ntype = \"redis\"\nurl = \"http://x\"\n",
            Path::new("/")
        )
        .is_err());
        assert!(
            RuntimeConfig::parse("[sqlite_database.x]\ntype = \"spin\"\n", Path::new("/")).is_err()
        );
    }
}
