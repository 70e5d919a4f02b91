//! The core's ports implemented with Spin, one per role: the tenant directory over the
//! control-plane Postgres, the cache over Spin key-value, atomic counters over
//! `wasi:keyvalue` atomics, the identity-provider keys from the `jwt_issuers` variable,
//! and the clock.

use std::cell::{OnceCell, RefCell};
use std::hash::{BuildHasher, Hasher};

use gateway_core::jwt::{ClaimPath, IssuerConfig, JwtVerifier, OrgClaim};
use gateway_core::ports::{
    AtomicCounters, Clock, CounterUnavailable, JwksSource, KeysUnavailable, Swap,
};
use gateway_core::prelude::*;
use gateway_core::sso::session::SessionRow;
use gateway_core::sso::SsoMode;
use serde::Deserialize;
use spin_sdk::key_value::Store;
use spin_sdk::pg4::{Connection, DbValue, Decode, ParameterValue};
use spin_sdk::wit::wasi::keyvalue::{atomics, store};

/// The system clock (WASI `wall-clock`).
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixMillis {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        UnixMillis(ms)
    }
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

/// Why [`PgDirectory::one`] gave no row.
#[derive(Debug)]
pub enum DirectoryError {
    /// The directory cannot answer: 503.
    Unavailable(DirectoryUnavailable),
    /// A text parameter holds a NUL character, refused before the query: the caller's 400.
    NulInText,
}

impl From<DirectoryUnavailable> for DirectoryError {
    fn from(e: DirectoryUnavailable) -> DirectoryError {
        DirectoryError::Unavailable(e)
    }
}

/// The core's directory port has no 400: where a NUL cannot come from a client (uuids, the
/// admin's label with control characters removed, a checked path), it stays a failure.
impl From<DirectoryError> for DirectoryUnavailable {
    fn from(e: DirectoryError) -> DirectoryUnavailable {
        match e {
            DirectoryError::Unavailable(e) => e,
            DirectoryError::NulInText => {
                DirectoryUnavailable("a text parameter holds a NUL character".into())
            }
        }
    }
}

impl From<DirectoryError> for gateway_core::sso::SsoError {
    fn from(e: DirectoryError) -> gateway_core::sso::SsoError {
        match e {
            DirectoryError::Unavailable(e) => gateway_core::sso::SsoError::Unavailable(e.0),
            DirectoryError::NulInText => gateway_core::sso::SsoError::NulInText("a value"),
        }
    }
}

/// Whether a parameter is text holding a NUL character (`\0` in a string, `\u0000` or a
/// raw NUL in a JSON document), as `tenant-db`'s backstop decides for the components.
fn holds_nul(p: &ParameterValue) -> bool {
    match p {
        ParameterValue::Str(s) | ParameterValue::Uuid(s) | ParameterValue::Decimal(s) => {
            s.contains('\0')
        }
        ParameterValue::ArrayStr(items) => items
            .iter()
            .any(|s| s.as_deref().is_some_and(|s| s.contains('\0'))),
        ParameterValue::Jsonb(bytes) => {
            let text = String::from_utf8_lossy(bytes);
            text.contains('\0')
                || serde_json::from_str::<serde_json::Value>(&text)
                    .map(|v| json_holds_nul(&v))
                    .unwrap_or(false)
        }
        _ => false,
    }
}

fn json_holds_nul(v: &serde_json::Value) -> bool {
    use serde_json::Value as V;
    match v {
        V::String(s) => s.contains('\0'),
        V::Array(items) => items.iter().any(json_holds_nul),
        V::Object(map) => map
            .iter()
            .any(|(k, v)| k.contains('\0') || json_holds_nul(v)),
        _ => false,
    }
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
        // Always exactly one row (Spin 4.0.0-4.0.2 never answers a query with none, Spin
        // #3671): the lookup is the inner side of a left join on one constant row, and a NULL
        // tenant id is "no such tenant".
        let rows = conn
            .query(
                &format!(
                    "SELECT r.tenant_id::text, r.slug, r.name, r.status, r.plan, r.placement, \
                     r.database_target, r.schema_name, r.read_only, \
                     tenantgate.effective_limits(r.tenant_id)::text, \
                     tenantgate.monthly_usage(r.tenant_id, (now() AT TIME ZONE 'UTC')::date), \
                     tenantgate.sso_mode(r.tenant_id) \
                     FROM (VALUES (1)) AS one (x) LEFT JOIN tenantgate.{function}($1) AS r ON true"
                ),
                &[arg],
            )
            .map_err(|e| unavailable(&e))?;
        match rows.rows.first() {
            Some(row) if !matches!(row.first(), None | Some(DbValue::DbNull)) => {
                record(row).map(Some).map_err(DirectoryUnavailable)
            }
            _ => Ok(None),
        }
    }
}

impl PgDirectory {
    fn conn(&self) -> Result<std::cell::RefMut<'_, Option<Connection>>, DirectoryUnavailable> {
        let mut slot = self.conn.borrow_mut();
        if slot.is_none() {
            *slot = Some(
                Connection::open(&self.address)
                    .map_err(|e| DirectoryUnavailable(format!("{e:?}")))?,
            );
        }
        Ok(slot)
    }

    /// Runs `sql`, which returns exactly one row (the caller wraps a function in a left join
    /// on one constant row), every column as text. A text parameter holding a NUL character
    /// is [`DirectoryError::NulInText`] and never sent (Postgres takes no NUL in text; the
    /// SSO, SAML and switch paths refuse one where they read it, naming the field, and this
    /// is the backstop): the caller's 400, not the directory's 503.
    pub fn one(
        &self,
        sql: &str,
        params: &[ParameterValue],
    ) -> Result<Vec<Option<String>>, DirectoryError> {
        if params.iter().any(holds_nul) {
            return Err(DirectoryError::NulInText);
        }
        let slot = self.conn()?;
        let conn = slot.as_ref().expect("opened by conn()");
        let rows = conn
            .query(sql, params)
            .map_err(|e| DirectoryUnavailable(format!("{e:?}")))?;
        let row = rows
            .rows
            .first()
            .ok_or_else(|| DirectoryUnavailable("no row".into()))?;
        row.iter()
            .map(|v| {
                Option::<String>::decode(v)
                    .map_err(|e| DirectoryError::from(DirectoryUnavailable(format!("{e}"))))
            })
            .collect()
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
        limits: match opt(9)? {
            Some(doc) => LimitPolicy::from_json(&doc).map_err(|e| e.to_string())?,
            None => LimitPolicy::default(),
        },
        month_usage: Option::<i64>::decode(&row[10])
            .map_err(|e| format!("month_usage: {e}"))?
            .unwrap_or(0)
            .max(0) as u64,
        sso: SsoMode::from_text(opt(11)?.as_deref().unwrap_or("enforced")),
    })
}

impl PgDirectory {
    /// Adds a batch of usage counts (`tenantgate.record_usage()`).
    pub fn record_usage(&self, rows_json: &str) -> Result<(), DirectoryUnavailable> {
        let unavailable = |e: &dyn std::fmt::Debug| DirectoryUnavailable(format!("{e:?}"));
        let mut slot = self.conn.borrow_mut();
        if slot.is_none() {
            *slot = Some(Connection::open(&self.address).map_err(|e| unavailable(&e))?);
        }
        let conn = slot.as_ref().expect("opened above");
        conn.query(
            "SELECT tenantgate.record_usage($1::text::jsonb)",
            &[ParameterValue::Str(rows_json.to_owned())],
        )
        .map_err(|e| unavailable(&e))?;
        Ok(())
    }
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
    fn session(&self, sid: &uuid::Uuid) -> Result<Option<SessionRow>, DirectoryUnavailable> {
        let row = self.one(
            "SELECT r.tenant_id::text, r.user_id::text, r.role_name, r.permissions, \
             r.expires_in::text FROM (VALUES (1)) AS one (x) \
             LEFT JOIN tenantgate.session_state($1::uuid) AS r ON true",
            &[ParameterValue::Uuid(sid.to_string())],
        )?;
        let Some(tenant) = row[0].clone() else {
            return Ok(None);
        };
        let bad = |what: &str| DirectoryUnavailable(format!("session_state: {what}"));
        Ok(Some(SessionRow {
            tenant: tenant.parse().map_err(|_| bad("tenant"))?,
            user_id: row[1]
                .as_deref()
                .and_then(|u| u.parse().ok())
                .ok_or_else(|| bad("user"))?,
            role: row[2].clone().unwrap_or_default(),
            permissions: row[3]
                .as_deref()
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            expires_in: row[4]
                .as_deref()
                .and_then(|n| n.parse::<i64>().ok())
                .unwrap_or(0)
                .max(0) as u64,
        }))
    }

    fn break_glass(
        &self,
        access: &gateway_core::platform::BreakGlassAccess<'_>,
    ) -> Result<Option<gateway_core::platform::BreakGlassGrant>, DirectoryUnavailable> {
        let row = self.one(
            "SELECT r.grant_id::text, r.read_only::text, array_to_string(r.permissions, ' ') \
             FROM (VALUES (1)) AS one (x) \
             LEFT JOIN tenantgate.break_glass_access($1::uuid, $2::uuid, $3, $4, $5, $6, $7::text::inet) AS r \
             ON true",
            &[
                ParameterValue::Uuid(access.tenant.to_string()),
                ParameterValue::Uuid(access.admin.id.to_string()),
                ParameterValue::Str(access.admin.label.clone()),
                ParameterValue::Str(access.method.to_owned()),
                ParameterValue::Str(access.path.to_owned()),
                ParameterValue::Str(access.request_id.as_str().to_owned()),
                access
                    .client_addr
                    .map_or(ParameterValue::DbNull, |a| ParameterValue::Str(a.to_string())),
            ],
        )?;
        let Some(id) = row[0].as_deref() else {
            return Ok(None);
        };
        let bad = |what: &str| DirectoryUnavailable(format!("break_glass_access: {what}"));
        Ok(Some(gateway_core::platform::BreakGlassGrant {
            id: id.parse().map_err(|_| bad("id"))?,
            read_only: row[1].as_deref() != Some("false"),
            permissions: row[2]
                .as_deref()
                .unwrap_or("")
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect(),
        }))
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

/// Atomic counters over `wasi:keyvalue` atomics on the component's `default` store,
/// opened on first use (a request that spends no bucket never opens it).
pub struct KvCounters(OnceCell<Result<store::Bucket, String>>);

impl KvCounters {
    /// Counters on the `default` store.
    pub fn new() -> KvCounters {
        KvCounters(OnceCell::new())
    }

    fn bucket(&self) -> Result<&store::Bucket, CounterUnavailable> {
        self.0
            .get_or_init(|| store::open("default").map_err(|e| format!("{e:?}")))
            .as_ref()
            .map_err(|e| CounterUnavailable(e.clone()))
    }
}

fn counter_error(e: store::Error) -> CounterUnavailable {
    CounterUnavailable(format!("{e:?}"))
}

impl AtomicCounters for KvCounters {
    fn increment(&self, key: &str, delta: i64) -> Result<i64, CounterUnavailable> {
        atomics::increment(self.bucket()?, key, delta).map_err(counter_error)
    }

    fn current(&self, key: &str) -> Result<Option<Vec<u8>>, CounterUnavailable> {
        self.bucket()?.get(key).map_err(counter_error)
    }

    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, CounterUnavailable> {
        let cas = atomics::Cas::new(self.bucket()?, key).map_err(counter_error)?;
        if cas.current().map_err(counter_error)?.as_deref() != expected {
            return Ok(false);
        }
        match atomics::swap(cas, new) {
            Ok(()) => Ok(true),
            Err(atomics::CasError::CasFailed(_)) => Ok(false),
            Err(atomics::CasError::StoreError(e)) => Err(counter_error(e)),
        }
    }

    /// One handle, one read, one swap (three host calls, not four).
    fn swap_from(
        &self,
        key: &str,
        decide: &mut gateway_core::ports::Decide<'_>,
    ) -> Result<Swap, CounterUnavailable> {
        let cas = atomics::Cas::new(self.bucket()?, key).map_err(counter_error)?;
        let current = cas.current().map_err(counter_error)?;
        let Some(new) = decide(current.as_deref()) else {
            return Ok(Swap::Declined);
        };
        match atomics::swap(cas, &new) {
            Ok(()) => Ok(Swap::Stored),
            Err(atomics::CasError::CasFailed(_)) => Ok(Swap::Raced),
            Err(atomics::CasError::StoreError(e)) => Err(counter_error(e)),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerSpec {
    issuer: String,
    audiences: Vec<String>,
    jwks: serde_json::Value,
    /// Claim path of the organisation (`org_id`, `o.id`, ...).
    #[serde(default)]
    org_claim: Option<String>,
    /// What the claim holds: `id` (default) or `slug`.
    #[serde(default)]
    org_is: Option<String>,
    /// Claim path of platform roles: set only for the platform's own issuer (README
    /// "Platform administration").
    #[serde(default)]
    platform_roles_claim: Option<String>,
}

/// The identity-provider keys from the `jwt_issuers` variable: a JSON list of
/// `{"issuer","audiences","jwks","org_claim"?,"org_is"?,"platform_roles_claim"?}`, validated
/// when loaded.
pub struct VariableJwks(JwtVerifier);

impl VariableJwks {
    /// Parses and validates `json` (every issuer, every key).
    pub fn parse(json: &str) -> Result<VariableJwks, String> {
        let specs: Vec<IssuerSpec> =
            serde_json::from_str(json).map_err(|e| format!("jwt_issuers: {e}"))?;
        let mut out = Vec::new();
        for s in specs {
            let auds: Vec<&str> = s.audiences.iter().map(String::as_str).collect();
            let mut issuer = IssuerConfig::from_jwks(&s.issuer, &auds, &s.jwks.to_string())
                .map_err(|e| format!("jwt_issuers {}: {e}", s.issuer))?;
            if let Some(path) = &s.org_claim {
                let path = ClaimPath::new(path);
                issuer = issuer.with_org_claim(match s.org_is.as_deref() {
                    None | Some("id") => OrgClaim::TenantId(path),
                    Some("slug") => OrgClaim::TenantSlug(path),
                    Some(other) => {
                        return Err(format!("jwt_issuers {}: org_is {other:?}", s.issuer))
                    }
                });
            }
            if let Some(path) = s.platform_roles_claim.as_deref().filter(|p| !p.is_empty()) {
                issuer = issuer.with_platform_roles(ClaimPath::new(path));
            }
            out.push(issuer);
        }
        Ok(VariableJwks(JwtVerifier::new(out)))
    }
}

impl JwksSource for VariableJwks {
    fn verifier(&self) -> Result<&JwtVerifier, KeysUnavailable> {
        Ok(&self.0)
    }
}
