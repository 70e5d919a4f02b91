//! Gateway sessions: the cookie the gateway sets after a login, and its check on every
//! request without a database round trip.
//!
//! ```text
//! cookie  = s1.<session id, 32 hex>.<tenant id, 32 hex>.<expiry, unix seconds>.<mac>
//! mac     = base64url (no padding) of HMAC-SHA256(session_key, "s1.<sid>.<tid>.<exp>")
//! ```
//!
//! The key is a gateway variable nothing else holds. A cookie is accepted when its MAC
//! verifies, it has not expired, it names the tenant the host resolved to, and the
//! session it names is live: unrevoked, unexpired, and its user still a member of the tenant.
//! Liveness (with the member's role and permissions) is read from the directory and kept in
//! the key-value cache for at most [`SessionConfig::state_ttl_ms`] (4 s by default), so a
//! logout, a removed member or a role change is in effect everywhere within 5 s while a
//! warm request costs one cache read.
//!
//! The cookie is short-lived ([`SessionConfig::cookie_ttl_secs`], 30 minutes) and renewed
//! on use once half of that has passed, never past the session's own expiry.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::ids::{Permission, RoleName, TenantId};
use crate::kv::{KvCache, SlotCache, UnixMillis};
use crate::tenant::{DirectoryUnavailable, TenantDirectory};

type HmacSha256 = Hmac<Sha256>;

/// The cookie's name over plain HTTP (local development).
pub const COOKIE: &str = "tg_session";
/// The cookie's name over TLS: the `__Host-` prefix makes browsers insist on `Secure`,
/// `Path=/` and no `Domain`, so the cookie stays bound to the one tenant host.
pub const SECURE_COOKIE: &str = "__Host-tg_session";

/// Why a session cookie was refused: 401 `session_invalid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Not a cookie this gateway issued (shape or MAC).
    #[error("session cookie malformed or tampered with")]
    Tampered,
    /// Past its expiry.
    #[error("session cookie expired")]
    Expired,
    /// Issued on another tenant's host.
    #[error("session cookie of another tenant")]
    OtherTenant,
    /// Logged out, expired in the directory, or its user is no longer a member.
    #[error("session revoked")]
    Revoked,
    /// The directory could not say (fails closed: 503).
    #[error("session state unavailable")]
    Unavailable,
}

/// The session key, at least 32 bytes.
#[derive(Clone)]
pub struct SessionKey(Vec<u8>);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

impl SessionKey {
    /// A key from its bytes; `None` when shorter than 32 bytes.
    pub fn new(bytes: &[u8]) -> Option<Self> {
        (bytes.len() >= 32).then(|| Self(bytes.to_vec()))
    }

    fn mac(&self, data: &[u8]) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// The cookie value for session `sid` of tenant `tid`, valid until `exp` (unix seconds).
    pub fn issue(&self, sid: uuid::Uuid, tid: &TenantId, exp: u64) -> String {
        let body = format!("s1.{}.{}.{exp}", sid.simple(), tid.uuid().simple());
        let mac = URL_SAFE_NO_PAD.encode(self.mac(body.as_bytes()));
        format!("{body}.{mac}")
    }

    /// Opens a cookie value: its MAC, shape and expiry (the tenant and liveness are checked
    /// by [`authenticate`]).
    pub fn open(&self, value: &str, now: UnixMillis) -> Result<SessionCookie, SessionError> {
        if value.len() > 200 {
            return Err(SessionError::Tampered);
        }
        let (body, mac) = value.rsplit_once('.').ok_or(SessionError::Tampered)?;
        let given = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| SessionError::Tampered)?;
        let mut check = HmacSha256::new_from_slice(&self.0).expect("any key length");
        check.update(body.as_bytes());
        check
            .verify_slice(&given)
            .map_err(|_| SessionError::Tampered)?;
        let mut parts = body.split('.');
        let (Some("s1"), Some(sid), Some(tid), Some(exp), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(SessionError::Tampered);
        };
        let sid = uuid::Uuid::try_parse(sid).map_err(|_| SessionError::Tampered)?;
        let tid = TenantId::from(uuid::Uuid::try_parse(tid).map_err(|_| SessionError::Tampered)?);
        let exp: u64 = exp.parse().map_err(|_| SessionError::Tampered)?;
        if now.as_secs() >= exp {
            return Err(SessionError::Expired);
        }
        Ok(SessionCookie { sid, tid, exp })
    }

    /// The CSRF token of session `sid`, for clients that cannot send `Origin` (header
    /// `x-csrf-token`); pages get it from `/auth/session`.
    pub fn csrf_token(&self, sid: uuid::Uuid) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(format!("csrf.{}", sid.simple()).as_bytes()))
    }

    /// A keyed hash (for the login flow's state and browser binding as stored).
    pub fn keyed_hash(&self, purpose: &str, value: &str) -> [u8; 32] {
        self.mac(format!("{purpose}.{value}").as_bytes())
    }
}

/// An opened cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionCookie {
    /// The session id.
    pub sid: uuid::Uuid,
    /// The tenant it was issued for.
    pub tid: TenantId,
    /// The cookie's expiry, unix seconds.
    pub exp: u64,
}

/// A live session as the directory knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRow {
    /// Its tenant.
    pub tenant: TenantId,
    /// Its user.
    pub user_id: uuid::Uuid,
    /// The user's role in the tenant.
    pub role: String,
    /// The role's permissions.
    pub permissions: Vec<String>,
    /// Seconds until the session itself expires.
    pub expires_in: u64,
}

/// Session settings.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The key cookies are signed with; `None`: sessions are off (cookies ignored, no logins).
    pub key: Option<SessionKey>,
    /// Cookie lifetime, renewed on use (default 1800 s).
    pub cookie_ttl_secs: u64,
    /// The session's absolute lifetime set at login (default 8 h).
    pub session_ttl_secs: u64,
    /// How long a session's state is cached (default 4000 ms; revocation bound ≤ 5 s).
    pub state_ttl_ms: u64,
    /// Logins fail closed when the IdP keys the control plane fetched are older (default 24 h).
    pub keys_max_age_secs: u64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            key: None,
            cookie_ttl_secs: 1800,
            session_ttl_secs: 8 * 3600,
            state_ttl_ms: 4000,
            keys_max_age_secs: 86_400,
        }
    }
}

/// A verified session: who the caller is, in which tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionIdentity {
    /// The session id.
    pub sid: uuid::Uuid,
    /// The tenant it belongs to.
    pub tenant: TenantId,
    /// The user.
    pub user_id: uuid::Uuid,
    /// The member's role.
    pub roles: Vec<RoleName>,
    /// The role's permissions.
    pub permissions: Vec<Permission>,
    /// A renewed cookie value to set, when this request renews it.
    pub renewed: Option<(String, u64)>,
}

fn cache(config: &SessionConfig) -> SlotCache {
    SlotCache::new("tg:sess", 16_384, config.state_ttl_ms)
}

#[derive(Serialize, Deserialize)]
struct Cached {
    live: Option<SessionRow>,
}

/// Checks a session cookie for `tenant` (see the module docs). A cookie for another
/// tenant, a tampered, expired or revoked one is refused; the directory being down fails
/// closed with [`SessionError::Unavailable`].
pub fn authenticate(
    value: &str,
    tenant: &TenantId,
    config: &SessionConfig,
    directory: &impl TenantDirectory,
    kv: &impl KvCache,
    now: UnixMillis,
) -> Result<SessionIdentity, SessionError> {
    let key = config.key.as_ref().ok_or(SessionError::Tampered)?;
    let cookie = key.open(value, now)?;
    if cookie.tid != *tenant {
        return Err(SessionError::OtherTenant);
    }
    let row = state(&cookie.sid, config, directory, kv, now)?.ok_or(SessionError::Revoked)?;
    if row.tenant != *tenant {
        return Err(SessionError::OtherTenant);
    }
    let half = config.cookie_ttl_secs / 2;
    let renewed = (cookie.exp.saturating_sub(now.as_secs()) < half).then(|| {
        let exp = now.as_secs() + config.cookie_ttl_secs.min(row.expires_in);
        (key.issue(cookie.sid, tenant, exp), exp)
    });
    Ok(SessionIdentity {
        sid: cookie.sid,
        tenant: row.tenant,
        user_id: row.user_id,
        roles: row.role.parse().ok().into_iter().collect(),
        permissions: row
            .permissions
            .iter()
            .filter_map(|p| p.parse().ok())
            .collect(),
        renewed,
    })
}

/// A session's state: from the cache when fresh, else from the directory (and cached,
/// live or not, for `state_ttl_ms`).
pub fn state(
    sid: &uuid::Uuid,
    config: &SessionConfig,
    directory: &impl TenantDirectory,
    kv: &impl KvCache,
    now: UnixMillis,
) -> Result<Option<SessionRow>, SessionError> {
    let cache = cache(config);
    if let Some(hit) = cache.get(kv, sid.as_bytes(), now) {
        if let Ok(hit) = serde_json::from_slice::<Cached>(&hit) {
            return Ok(hit.live);
        }
    }
    let live = directory
        .session(sid)
        .map_err(|_: DirectoryUnavailable| SessionError::Unavailable)?;
    if let Ok(payload) = serde_json::to_vec(&Cached { live: live.clone() }) {
        let until = UnixMillis(now.0.saturating_add(config.state_ttl_ms));
        cache.put(kv, sid.as_bytes(), &payload, now, until);
    }
    Ok(live)
}

/// Forgets a session's cached state on this instance (logout); other instances see the
/// revocation within `state_ttl_ms`.
pub fn forget(sid: &uuid::Uuid, config: &SessionConfig, kv: &impl KvCache) {
    cache(config).delete(kv, sid.as_bytes());
}

/// The `Set-Cookie` value for a session cookie, bound to the host it is set on (no
/// `Domain`), `HttpOnly`, `SameSite=Lax`, and `Secure` with the `__Host-` name over TLS.
pub fn set_cookie(value: &str, max_age_secs: u64, tls: bool) -> String {
    let (name, secure) = if tls {
        (SECURE_COOKIE, "; Secure")
    } else {
        (COOKIE, "")
    };
    format!("{name}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{secure}")
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(tls: bool) -> String {
    set_cookie("", 0, tls)
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
