//! The core's ports implemented with Spin: the control-plane directory over Postgres, the
//! cache over Spin key-value, and the clock.

use std::cell::RefCell;
use std::hash::{BuildHasher, Hasher};

use gateway_core::prelude::*;
use spin_sdk::key_value::Store;
use spin_sdk::pg4::{Connection, Decode, ParameterValue};

/// Now, read once per request.
pub fn now() -> UnixMillis {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    UnixMillis(ms)
}

/// A fresh request id: the time and 64 random bits (the standard library's hasher keys
/// come from the platform's random source, WASI `random` here).
pub fn request_id(now: UnixMillis) -> RequestId {
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!("{:x}-{random:016x}", now.0)
        .parse()
        .expect("hex digits and a dash make a request id")
}

/// The tenant directory: `tenantgate.resolve_tenant_by_*()` in the control plane, on a
/// connection opened on first use (a warm cache never opens one).
pub struct PgDirectory {
    address: String,
    conn: RefCell<Option<Connection>>,
}

impl PgDirectory {
    /// A directory over the control plane at `address`.
    pub fn new(address: &str) -> PgDirectory {
        PgDirectory {
            address: address.to_owned(),
            conn: RefCell::new(None),
        }
    }

    fn lookup(
        &self,
        function: &str,
        arg: ParameterValue,
    ) -> Result<Option<TenantRecord>, DirectoryUnavailable> {
        let unavailable = |e: &dyn std::fmt::Debug| DirectoryUnavailable(format!("{e:?}"));
        let mut slot = self.conn.borrow_mut();
        if slot.is_none() {
            *slot = Some(Connection::open(&self.address).map_err(|e| unavailable(&e))?);
        }
        let conn = slot.as_ref().expect("opened above");
        let rows = conn
            .query(
                &format!(
                    "SELECT tenant_id::text, slug, name, status, plan, placement, database_target, \
                     schema_name, read_only FROM tenantgate.{function}($1)"
                ),
                &[arg],
            )
            .map_err(|e| unavailable(&e))?;
        let Some(row) = rows.rows.first() else {
            return Ok(None);
        };
        record(row).map(Some).map_err(DirectoryUnavailable)
    }
}

fn record(row: &[spin_sdk::pg4::DbValue]) -> Result<TenantRecord, String> {
    let text = |i: usize| String::decode(&row[i]).map_err(|e| format!("column {i}: {e}"));
    let opt = |i: usize| Option::<String>::decode(&row[i]).map_err(|e| format!("column {i}: {e}"));
    let status = match text(3)?.as_str() {
        "active" => TenantStatus::Active,
        "suspended" => TenantStatus::Suspended,
        "deleted" => TenantStatus::Deleted,
        other => return Err(format!("status {other:?}")),
    };
    let placement = Placement::from_columns(&text(5)?, opt(6)?.as_deref(), opt(7)?.as_deref())
        .map_err(|e| e.to_string())?;
    Ok(TenantRecord {
        id: text(0)?.parse().map_err(|e| format!("tenant id: {e}"))?,
        slug: text(1)?.parse().map_err(|e| format!("slug: {e}"))?,
        name: text(2)?,
        status,
        plan: text(4)?,
        placement,
        read_only: bool::decode(&row[8]).map_err(|e| format!("read_only: {e}"))?,
    })
}

impl TenantDirectory for PgDirectory {
    fn by_slug(&self, slug: &TenantSlug) -> Result<Option<TenantRecord>, DirectoryUnavailable> {
        self.lookup(
            "resolve_tenant_by_slug",
            ParameterValue::Str(slug.as_str().to_owned()),
        )
    }

    fn by_domain(&self, host: &Hostname) -> Result<Option<TenantRecord>, DirectoryUnavailable> {
        self.lookup(
            "resolve_tenant_by_domain",
            ParameterValue::Str(host.as_str().to_owned()),
        )
    }

    fn by_id(&self, id: &TenantId) -> Result<Option<TenantRecord>, DirectoryUnavailable> {
        self.lookup("resolve_tenant_by_id", ParameterValue::Uuid(id.to_string()))
    }
}

/// The cache: the component's `default` key-value store. Unavailable (not granted, or
/// the backend is down) means every read is a miss: the directory stays the truth.
pub struct SpinKv(Option<Store>);

impl SpinKv {
    /// Opens the `default` store.
    pub fn open() -> SpinKv {
        SpinKv(Store::open_default().ok())
    }

    fn store(&self) -> Result<&Store, CacheUnavailable> {
        self.0
            .as_ref()
            .ok_or_else(|| CacheUnavailable("no key-value store".into()))
    }
}

impl KvCache for SpinKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheUnavailable> {
        self.store()?
            .get(key)
            .map_err(|e| CacheUnavailable(e.to_string()))
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), CacheUnavailable> {
        self.store()?
            .set(key, value)
            .map_err(|e| CacheUnavailable(e.to_string()))
    }

    fn delete(&self, key: &str) -> Result<(), CacheUnavailable> {
        self.store()?
            .delete(key)
            .map_err(|e| CacheUnavailable(e.to_string()))
    }
}
