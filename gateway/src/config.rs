//! The gateway's configuration: Spin variables, parsed and validated on every request
//! (variables are the deployment's to change), any invalid value denying everything.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `directory_database_url` | control-plane Postgres as the directory role (`tenantgate_directory`: tenant lookups only) | required |
//! | `apex` | the apex host; tenants are `{slug}.{apex}` | `localhost` |
//! | `extra_ports` | ports accepted in `Host` besides 80/443, comma-separated | `3000` |
//! | `routes` | `prefix=component,...` | `/api/tasks=tasks,/api/projects=tasks` |
//! | `context_kid`, `context_key` | the signing key id and its hex (≥ 32 bytes) | `k1`, required |
//! | `anonymous_permissions` | permissions of requests without a token | empty |
//! | `jwt_issuers` | JSON list of `{"issuer","audiences","jwks","org_claim"?,"org_is"?}` | `[]` |
//! | `max_body_bytes`, `max_header_bytes` | request size caps | 10 MiB, 32 KiB |
//! | `rate_limits` | `on` or `off` | `on` |
//! | `rate_limit_store` | `kv` (this instance's key-value store) or `redis` (shared) | `kv` |
//! | `redis_url` | the shared Redis, `redis://host:port` (with `rate_limit_store = redis`) | empty |
//! | `rate_limit_unavailable` | store down: `closed` (503) or `local` (this instance at limit / N); the sign-in routes are always closed | `closed` |
//! | `rate_limit_instances` | N for `local` | `1` |
//! | `usage_flush_secs` | how often usage counts are written to the control plane | `5` |

use gateway_core::prelude::*;

use crate::limiter::{Limiter, RedisLimiter};
use crate::ports::{KvCounters, VariableJwks};

/// Which store limits and metering use.
pub enum StoreChoice {
    /// The local key-value store.
    Kv,
    /// A shared Redis.
    Redis(String),
}

impl StoreChoice {
    /// Opens (lazily) the chosen store.
    pub fn limiter(&self) -> Limiter {
        match self {
            StoreChoice::Kv => Limiter::Kv(KvCounters::new()),
            StoreChoice::Redis(url) => Limiter::Redis(RedisLimiter::new(url)),
        }
    }
}

/// The validated configuration.
pub struct Config {
    /// What the core decides with.
    pub core: GatewayConfig,
    /// The control-plane connection string of the directory role (`tenantgate_directory`), which
    /// may call the tenant lookups and nothing else; backends' role may not call them.
    pub directory_database_url: String,
    /// The identity-provider keys.
    pub keys: VariableJwks,
    /// The rate-limit and metering store.
    pub store: StoreChoice,
    /// How often usage is flushed, ms.
    pub usage_flush_ms: u64,
}

fn var(name: &str) -> Result<String, String> {
    spin_sdk::variables::get(name).map_err(|e| format!("variable {name}: {e}"))
}

fn var_or(name: &str, default: &str) -> String {
    spin_sdk::variables::get(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn hex(s: &str) -> Result<Vec<u8>, String> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return Err("must be hex".into());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| "must be hex".to_owned()))
        .collect()
}

fn number<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
    match spin_sdk::variables::get(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("{name} must be a number")),
    }
}

/// Reads and validates every variable.
pub fn load() -> Result<Config, String> {
    let directory_database_url = var("directory_database_url")?;
    let apex: Hostname = var_or("apex", "localhost")
        .parse()
        .map_err(|e| format!("apex: {e}"))?;
    let ports = var_or("extra_ports", "3000")
        .split(',')
        .map(|p| {
            p.trim()
                .parse::<u16>()
                .map_err(|_| format!("extra_ports: {p:?}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let routes = RouteTable::parse(&var_or("routes", "/api/tasks=tasks,/api/projects=tasks"))
        .map_err(|e| format!("routes: {e}"))?;
    let key = hex(&var("context_key")?)?;
    let context = ContextSigner::new(&var_or("context_kid", "k1"), &key)
        .map_err(|e| format!("context_key: {e}"))?;
    let anonymous_permissions = var_or("anonymous_permissions", "")
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse()
                .map_err(|e| format!("anonymous_permissions {p:?}: {e}"))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let rate_limits = RateLimitConfig {
        enabled: match var_or("rate_limits", "on").trim() {
            "on" => true,
            "off" => false,
            other => return Err(format!("rate_limits must be on or off, not {other:?}")),
        },
        on_unavailable: match var_or("rate_limit_unavailable", "closed").trim() {
            "closed" => OnUnavailable::Closed,
            "local" => OnUnavailable::Local {
                instances: number("rate_limit_instances", 1u32)?.max(1),
            },
            other => {
                return Err(format!(
                    "rate_limit_unavailable must be closed or local, not {other:?}"
                ))
            }
        },
    };
    let store = match var_or("rate_limit_store", "kv").trim() {
        "kv" => StoreChoice::Kv,
        "redis" => {
            let url = var_or("redis_url", "");
            if !url.starts_with("redis://") {
                return Err("rate_limit_store = redis needs redis_url = redis://host:port".into());
            }
            StoreChoice::Redis(url)
        }
        other => {
            return Err(format!(
                "rate_limit_store must be kv or redis, not {other:?}"
            ))
        }
    };
    let session_key = var_or("session_key", "");
    let sessions = gateway_core::sso::session::SessionConfig {
        key: match session_key.trim() {
            "" => None,
            k => Some(
                gateway_core::sso::session::SessionKey::new(&hex(k)?)
                    .ok_or("session_key must be at least 32 bytes (64 hex digits)")?,
            ),
        },
        session_ttl_secs: number("session_ttl_secs", 8 * 3600u64)?.max(60),
        keys_max_age_secs: number("sso_keys_max_age_secs", 86_400u64)?,
        ..Default::default()
    };
    let defaults = Limits::default();
    let limits = Limits {
        max_body_bytes: number("max_body_bytes", defaults.max_body_bytes)?,
        max_header_bytes: number("max_header_bytes", defaults.max_header_bytes)?,
    };
    Ok(Config {
        core: GatewayConfig {
            host: HostConfig::with_ports(&ports),
            resolver: ResolverConfig::new(apex),
            tenant_cache: TenantCacheConfig::default(),
            routes,
            limits,
            context,
            anonymous_permissions,
            rate_limits,
            sessions,
        },
        directory_database_url,
        keys: VariableJwks::parse(&var_or("jwt_issuers", "[]"))?,
        store,
        usage_flush_ms: number("usage_flush_secs", 5u64)?.saturating_mul(1000),
    })
}
