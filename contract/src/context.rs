//! The signed tenant context (`x-tenant-context`), exactly as Postgres verifies it
//! (`migrations/0001_roles_and_keys.sql`, `tenantgate.current_context()`):
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
//!
//! The gateway signs ([`ContextSigner`]); backends read the claims unverified
//! ([`decode_unverified`]: Postgres verifies on every statement); tools verify
//! ([`verify`]). Nothing else builds or parses a token.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::ids::{Permission, RequestId, RoleName, TenantId, TenantSlug};
use crate::placement::Placement;
use crate::time::UnixMillis;

type HmacSha256 = Hmac<Sha256>;

/// The request header the gateway puts the signed context in.
pub const CONTEXT_HEADER: &str = "x-tenant-context";

/// Tokens longer than this are refused (the database refuses over 4096 bytes too).
pub const MAX_CONTEXT_BYTES: usize = 4096;

/// The context's claims. On the wire the placement is three claims, `plc`, `db` and
/// `sch`, and the fields appear in the order `tid, slug, plc, db, sch, uid, roles, perms,
/// rid, exp[, ro]` (a known-answer test pins it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextClaims {
    /// Tenant id (`tid`).
    pub tid: TenantId,
    /// Tenant slug.
    pub slug: TenantSlug,
    /// Where the tenant's data lives (`plc`, `db`, `sch`).
    pub placement: Placement,
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
    pub ro: bool,
}

impl ContextClaims {
    /// Whether the claims grant `permission` (for example `tasks.write`).
    pub fn has_permission(&self, permission: &str) -> bool {
        self.perms.iter().any(|p| p.as_str() == permission)
    }
}

/// The wire shape as signed (borrowed: signing is on every request's path).
#[derive(Serialize)]
struct WireOut<'a> {
    tid: &'a TenantId,
    slug: &'a str,
    plc: &'a str,
    db: Option<&'a str>,
    sch: Option<&'a str>,
    uid: &'a Option<uuid::Uuid>,
    roles: &'a [RoleName],
    perms: &'a [Permission],
    rid: &'a RequestId,
    exp: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ro: bool,
}

/// The wire shape as read: optional claims may be absent (Postgres reads `db`, `sch` and
/// `uid` as NULL then).
#[derive(Deserialize)]
struct WireIn {
    tid: TenantId,
    slug: TenantSlug,
    plc: String,
    #[serde(default)]
    db: Option<String>,
    #[serde(default)]
    sch: Option<String>,
    #[serde(default)]
    uid: Option<uuid::Uuid>,
    #[serde(default)]
    roles: Vec<RoleName>,
    #[serde(default)]
    perms: Vec<Permission>,
    rid: RequestId,
    exp: u64,
    #[serde(default)]
    ro: bool,
}

impl Serialize for ContextClaims {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (plc, db, sch) = self.placement.columns();
        WireOut {
            tid: &self.tid,
            slug: self.slug.as_str(),
            plc,
            db,
            sch,
            uid: &self.uid,
            roles: &self.roles,
            perms: &self.perms,
            rid: &self.rid,
            exp: self.exp,
            ro: self.ro,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for ContextClaims {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let w = WireIn::deserialize(d)?;
        let placement = Placement::from_columns(&w.plc, w.db.as_deref(), w.sch.as_deref())
            .map_err(D::Error::custom)?;
        Ok(ContextClaims {
            tid: w.tid,
            slug: w.slug,
            placement,
            uid: w.uid,
            roles: w.roles,
            perms: w.perms,
            rid: w.rid,
            exp: w.exp,
            ro: w.ro,
        })
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

    /// The token text, owned.
    pub fn into_string(self) -> String {
        self.0
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

    /// The key id tokens are signed under.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs `claims` as given (the caller sets `exp`, normally [`ContextSigner::expiry`]).
    pub fn sign(&self, claims: &ContextClaims) -> SignedContext {
        let json = serde_json::to_vec(claims).expect("context claims always serialise");
        let mut token = format!("v1.{}.", self.kid);
        URL_SAFE_NO_PAD.encode_string(json, &mut token);
        self.seal(token)
    }

    /// Signs `payload` exactly as given (normally [`encode_payload`] of some JSON), even if
    /// it is not base64url or not claims: for tools and attack tests that need a validly
    /// signed token with an odd payload. Postgres refuses such a token.
    pub fn sign_payload(&self, payload: &str) -> SignedContext {
        self.seal(format!("v1.{}.{payload}", self.kid))
    }

    /// Appends `.<b64url HMAC-SHA256(key, head)>` to `head` (`v1.<kid>.<payload>`).
    fn seal(&self, mut token: String) -> SignedContext {
        let mut mac = self.mac.clone();
        mac.update(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(mac.finalize().into_bytes(), &mut token);
        SignedContext(token)
    }
}

/// `v1.<kid>.<payload>.<sig>` for `payload` as given, signed with `key`, checking neither
/// the kid's format nor the key's length. Only for attack tests and tools that must make
/// tokens the database has to refuse (a 65-character kid, a short key); everything else
/// signs with a [`ContextSigner`].
pub fn sign_unchecked(kid: &str, key: &[u8], payload: &str) -> String {
    let mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    ContextSigner {
        kid: kid.to_owned(),
        mac,
        ttl_secs: 1,
    }
    .sign_payload(payload)
    .into_string()
}

/// base64url without padding of `json`: the payload part of a token.
pub fn encode_payload(json: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(json)
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
