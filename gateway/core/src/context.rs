//! The signed tenant context (`x-tenant-context`), exactly as Postgres verifies it
//! (`migrations/0001_roles_and_keys.sql`, `tenantgate_private.verify_context`):
//!
//! ```text
//! v1.<kid>.<payload>.<sig>
//! payload = base64url (no padding) of UTF-8 JSON
//!           {"tid","slug","plc","db","sch","uid","roles","perms","rid","exp"}
//! sig     = base64url (no padding) of HMAC-SHA256(key, "v1.<kid>.<payload>")  (43 chars)
//! ```
//!
//! `db` and `sch` tell the backend which database and schema to open; Postgres ignores
//! them. Keys are at least 32 bytes and their `kid` matches `^[A-Za-z0-9_-]{1,64}$`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::ids::{Permission, RequestId, RoleName, TenantId, TenantSlug};
use crate::kv::UnixMillis;
use crate::tenant::Placement;

type HmacSha256 = Hmac<Sha256>;

/// Tokens longer than this are refused (the database refuses over 4096 bytes too).
pub const MAX_CONTEXT_BYTES: usize = 4096;

/// The context's claims, in the wire order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextClaims {
    /// Tenant id.
    pub tid: TenantId,
    /// Tenant slug.
    pub slug: TenantSlug,
    /// Placement kind: `shared`, `schema` or `dedicated`.
    pub plc: PlacementKind,
    /// The placement's database target, if any.
    pub db: Option<String>,
    /// The placement's schema, for `schema` placements.
    pub sch: Option<String>,
    /// The user id, when known.
    pub uid: Option<uuid::Uuid>,
    /// Roles.
    pub roles: Vec<RoleName>,
    /// Permissions.
    pub perms: Vec<Permission>,
    /// Request id.
    pub rid: RequestId,
    /// Expiry, unix seconds (valid while `now < exp`).
    pub exp: u64,
    /// The tenant is read-only (moving between placements): backends refuse writes.
    /// Sent only when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ro: bool,
}

/// The `plc` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlacementKind {
    /// The shared database.
    Shared,
    /// A schema of its own.
    Schema,
    /// A database of its own.
    Dedicated,
}

impl From<&Placement> for PlacementKind {
    fn from(p: &Placement) -> Self {
        match p {
            Placement::Shared => PlacementKind::Shared,
            Placement::Schema { .. } => PlacementKind::Schema,
            Placement::Dedicated { .. } => PlacementKind::Dedicated,
        }
    }
}

/// Why a context key, token or signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// A key shorter than 32 bytes.
    #[error("context key shorter than 32 bytes")]
    KeyTooShort,
    /// A kid outside `[A-Za-z0-9_-]{1,64}`.
    #[error("invalid context key id")]
    BadKid,
    /// Not `v1.<kid>.<payload>.<sig>` with a JSON payload of the expected shape.
    #[error("malformed context token")]
    Malformed,
    /// Unknown kid or a signature that does not verify.
    #[error("context signature invalid")]
    BadSignature,
    /// `exp` has passed.
    #[error("context expired")]
    Expired,
}

/// A context token signed by [`ContextSigner`] (only it builds one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedContext(String);

impl SignedContext {
    /// The token text, the value of `x-tenant-context`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Signs contexts with one key. The HMAC key schedule is computed once, at construction.
#[derive(Clone)]
pub struct ContextSigner {
    kid: String,
    mac: HmacSha256,
    ttl_secs: u64,
}

impl std::fmt::Debug for ContextSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextSigner")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn valid_kid(kid: &str) -> bool {
    (1..=64).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn keyed(key: &[u8]) -> Result<HmacSha256, ContextError> {
    if key.len() < 32 {
        return Err(ContextError::KeyTooShort);
    }
    HmacSha256::new_from_slice(key).map_err(|_| ContextError::KeyTooShort)
}

impl ContextSigner {
    /// A signer for `kid` with `key` (at least 32 bytes); tokens expire after 30 s.
    pub fn new(kid: &str, key: &[u8]) -> Result<Self, ContextError> {
        if !valid_kid(kid) {
            return Err(ContextError::BadKid);
        }
        Ok(Self {
            kid: kid.to_owned(),
            mac: keyed(key)?,
            ttl_secs: 30,
        })
    }

    /// Sets the token lifetime in seconds (at least 1).
    pub fn with_ttl_secs(mut self, secs: u64) -> Self {
        self.ttl_secs = secs.max(1);
        self
    }

    /// The expiry for a token signed at `now`: `now` (seconds) plus the TTL.
    pub fn expiry(&self, now: UnixMillis) -> u64 {
        now.as_secs().saturating_add(self.ttl_secs)
    }

    /// Signs `claims` as given (the caller sets `exp`, normally [`ContextSigner::expiry`]).
    pub fn sign(&self, claims: &ContextClaims) -> SignedContext {
        let json = serde_json::to_vec(claims).expect("context claims always serialise");
        let mut token = format!("v1.{}.", self.kid);
        URL_SAFE_NO_PAD.encode_string(json, &mut token);
        let mut mac = self.mac.clone();
        mac.update(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(mac.finalize().into_bytes(), &mut token);
        SignedContext(token)
    }
}

/// Splits a token into (kid, payload, sig), checking the shape the database checks.
fn split(token: &str) -> Result<(&str, &str, &str), ContextError> {
    if token.len() > MAX_CONTEXT_BYTES {
        return Err(ContextError::Malformed);
    }
    let mut parts = token.split('.');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some("v1"), Some(kid), Some(payload), Some(sig), None)
            if valid_kid(kid) && payload.len() >= 2 && sig.len() == 43 =>
        {
            Ok((kid, payload, sig))
        }
        _ => Err(ContextError::Malformed),
    }
}

/// The claims of a context token WITHOUT checking its signature or expiry. For backends
/// that only pick a database and schema (Postgres verifies), and for tests.
pub fn decode_unverified(token: &str) -> Result<ContextClaims, ContextError> {
    let (_, payload, _) = split(token)?;
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| ContextError::Malformed)?;
    serde_json::from_slice(&json).map_err(|_| ContextError::Malformed)
}

/// Verifies a context token against `keys` (`(kid, key)` pairs) at `now`, in constant time
/// for the signature comparison, and returns its claims.
pub fn verify(
    token: &str,
    keys: &[(&str, &[u8])],
    now: UnixMillis,
) -> Result<ContextClaims, ContextError> {
    let (kid, _, sig) = split(token)?;
    let (_, key) = keys
        .iter()
        .find(|(k, _)| *k == kid)
        .ok_or(ContextError::BadSignature)?;
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| ContextError::Malformed)?;
    let mut mac = keyed(key)?;
    mac.update(&token.as_bytes()[..token.rfind('.').unwrap_or(0)]);
    mac.verify_slice(&sig)
        .map_err(|_| ContextError::BadSignature)?;
    let claims = decode_unverified(token)?;
    if now.as_secs() >= claims.exp {
        return Err(ContextError::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
#[path = "context_tests.rs"]
mod tests;
