//! The signed tenant context (`x-tenant-context`), exactly as Postgres verifies it
//! (`migrations/0009_context_v2.sql`, the view `tenantgate.context_v2`):
//!
//! ```text
//! v2~<kid>~<exp>~<tid>~<uid>~<rid>~<plc>~<db>~<sch>~<slug>~<roles>~<perms>~<ro>~<sig>
//! exp   unix seconds, decimal          tid, uid  hyphenated uuids (uid empty when none)
//! rid   the request id                 plc       shared | schema | dedicated
//! db    database target or empty       sch       schema name or empty
//! slug  the tenant's slug              roles, perms  joined by ',' (empty when none)
//! ro    '1' while the tenant is read-only, else empty
//! sig   64 lower-case hex digits of HMAC-SHA256(key, every byte before sig, its '~' included)
//! ```
//!
//! Fixed order, no JSON and no base64, so Postgres verifies it with `split_part()` and two
//! `sha256()` calls. No field can contain `~` or `,` (each is a validated id), so nothing is
//! escaped. `db` and `sch` tell the backend which database and schema to open; Postgres
//! ignores them. Keys are at least 32 bytes and their `kid` matches `^[A-Za-z0-9_-]{1,64}$`.
//!
//! The gateway signs ([`ContextSigner`]); backends read the claims unverified
//! ([`decode_unverified`]: Postgres verifies on every statement); tools verify
//! ([`verify`]). Nothing else builds or parses a token.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::ids::{Permission, RequestId, RoleName, TenantId, TenantSlug};
use crate::placement::Placement;
use crate::time::UnixMillis;

type HmacSha256 = Hmac<Sha256>;

/// The request header the gateway puts the signed context in.
pub const CONTEXT_HEADER: &str = "x-tenant-context";

/// Tokens longer than this are refused here (the gateway never signs one; the database does not
/// bound the length, so a key holder's longer token would verify there).
pub const MAX_CONTEXT_BYTES: usize = 4096;

/// The context's claims. In a token the placement is three fields, `plc`, `db` and `sch`,
/// in the order of the module's format (a known-answer test pins it). The serde form is the
/// JSON object `{tid, slug, plc, db, sch, uid, roles, perms, rid, exp[, ro]}` (what
/// `tenantgate.current_context()` returns and tools print); tokens never carry JSON.
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

/// The JSON shape as written (borrowed).
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

/// The JSON shape as read: optional claims may be absent.
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
    /// Not `v2~<kid>~...~<sig>` with fields of the expected shape.
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

/// The version field every token starts with.
const VERSION: &str = "v2";
/// The field separator.
const SEP: char = '~';
/// Fields in a token, version and signature included.
const FIELDS: usize = 14;
/// Hex digits of the signature.
const SIG_HEX: usize = 64;

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

fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

fn join<'a>(out: &mut String, items: impl Iterator<Item = &'a str>) {
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item);
    }
}

/// The payload of a token for `claims`: the fields between the kid and the signature,
/// `<exp>~<tid>~<uid>~<rid>~<plc>~<db>~<sch>~<slug>~<roles>~<perms>~<ro>`.
pub fn encode_payload(claims: &ContextClaims) -> String {
    let (plc, db, sch) = claims.placement.columns();
    let mut out = String::with_capacity(160);
    out.push_str(&claims.exp.to_string());
    for field in [
        claims.tid.as_str(),
        &claims.uid.map(|u| u.to_string()).unwrap_or_default(),
        claims.rid.as_str(),
        plc,
        db.unwrap_or(""),
        sch.unwrap_or(""),
        claims.slug.as_str(),
    ] {
        out.push(SEP);
        out.push_str(field);
    }
    out.push(SEP);
    join(&mut out, claims.roles.iter().map(RoleName::as_str));
    out.push(SEP);
    join(&mut out, claims.perms.iter().map(Permission::as_str));
    out.push(SEP);
    if claims.ro {
        out.push('1');
    }
    out
}

/// The payload for claims given as JSON in the [`ContextClaims`] serde shape, written as
/// given and unchecked: strings as they are, numbers in decimal, `true` as `1`, `null`,
/// `false` and absent claims as empty, arrays joined by `,`. For attack tests and tools that
/// must send claims the contract's types would not build; a non-object gives eleven empty
/// fields.
pub fn payload_from_json(claims: &serde_json::Value) -> String {
    fn text(v: Option<&serde_json::Value>) -> String {
        match v {
            None | Some(serde_json::Value::Null) | Some(serde_json::Value::Bool(false)) => {
                String::new()
            }
            Some(serde_json::Value::Bool(true)) => "1".into(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|i| text(Some(i)))
                .collect::<Vec<_>>()
                .join(","),
            Some(other) => other.to_string(),
        }
    }
    [
        "exp", "tid", "uid", "rid", "plc", "db", "sch", "slug", "roles", "perms", "ro",
    ]
    .iter()
    .map(|k| text(claims.get(k)))
    .collect::<Vec<_>>()
    .join("~")
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
        self.sign_payload(&encode_payload(claims))
    }

    /// Signs `payload` exactly as given (normally [`encode_payload`] or
    /// [`payload_from_json`]), even if it is not eleven valid fields: for tools and attack
    /// tests that need a validly signed token with an odd payload.
    pub fn sign_payload(&self, payload: &str) -> SignedContext {
        let mut token = String::with_capacity(payload.len() + self.kid.len() + 72);
        token.push_str(VERSION);
        token.push(SEP);
        token.push_str(&self.kid);
        token.push(SEP);
        token.push_str(payload);
        token.push(SEP);
        let mut mac = self.mac.clone();
        mac.update(token.as_bytes());
        push_hex(&mut token, &mac.finalize().into_bytes());
        SignedContext(token)
    }
}

/// `v2~<kid>~<payload>~<sig>` for `payload` as given, signed with `key`, checking neither
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

/// The parts of a token of the right shape: its kid, its fields (11), and its signature.
struct Parts<'a> {
    kid: &'a str,
    fields: [&'a str; FIELDS - 3],
    sig: &'a str,
}

/// Splits a token, checking the shape: at most [`MAX_CONTEXT_BYTES`], `v2`, a valid kid,
/// eleven fields, and 64 lower-case hex digits of signature.
fn split(token: &str) -> Result<Parts<'_>, ContextError> {
    if token.len() > MAX_CONTEXT_BYTES {
        return Err(ContextError::Malformed);
    }
    let mut it = token.split(SEP);
    let mut all = [""; FIELDS];
    for slot in all.iter_mut() {
        *slot = it.next().ok_or(ContextError::Malformed)?;
    }
    let sig = all[FIELDS - 1];
    if it.next().is_some()
        || all[0] != VERSION
        || !valid_kid(all[1])
        || sig.len() != SIG_HEX
        || !sig.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(ContextError::Malformed);
    }
    let mut fields = [""; FIELDS - 3];
    fields.copy_from_slice(&all[2..FIELDS - 1]);
    Ok(Parts {
        kid: all[1],
        fields,
        sig,
    })
}

fn list<T: std::str::FromStr>(field: &str) -> Result<Vec<T>, ContextError> {
    if field.is_empty() {
        return Ok(Vec::new());
    }
    field
        .split(',')
        .map(|s| s.parse().map_err(|_| ContextError::Malformed))
        .collect()
}

fn claims_of(f: &[&str; FIELDS - 3]) -> Result<ContextClaims, ContextError> {
    let bad = |_| ContextError::Malformed;
    let [exp, tid, uid, rid, plc, db, sch, slug, roles, perms, ro] = *f;
    // Postgres casts exp to bigint: digits only, within i64.
    if exp.is_empty() || !exp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ContextError::Malformed);
    }
    let exp: u64 = exp.parse().map_err(|_| ContextError::Malformed)?;
    if exp > i64::MAX as u64 {
        return Err(ContextError::Malformed);
    }
    let opt = |s: &'_ str| (!s.is_empty()).then(|| s.to_owned());
    let (db, sch) = (opt(db), opt(sch));
    Ok(ContextClaims {
        tid: tid.parse().map_err(bad)?,
        slug: slug.parse().map_err(bad)?,
        placement: Placement::from_columns(plc, db.as_deref(), sch.as_deref())
            .map_err(|_| ContextError::Malformed)?,
        uid: match uid {
            "" => None,
            u => Some(uuid::Uuid::parse_str(u).map_err(|_| ContextError::Malformed)?),
        },
        roles: list(roles)?,
        perms: list(perms)?,
        rid: rid.parse().map_err(bad)?,
        exp,
        ro: match ro {
            "" => false,
            "1" => true,
            _ => return Err(ContextError::Malformed),
        },
    })
}

/// The claims of a context token WITHOUT checking its signature or expiry. For backends
/// that only pick a database and schema (Postgres verifies), and for tests.
pub fn decode_unverified(token: &str) -> Result<ContextClaims, ContextError> {
    claims_of(&split(token)?.fields)
}

/// Verifies a context token against `keys` (`(kid, key)` pairs) at `now`, in constant time
/// for the signature comparison, and returns its claims.
pub fn verify(
    token: &str,
    keys: &[(&str, &[u8])],
    now: UnixMillis,
) -> Result<ContextClaims, ContextError> {
    let parts = split(token)?;
    let (_, key) = keys
        .iter()
        .find(|(k, _)| *k == parts.kid)
        .ok_or(ContextError::BadSignature)?;
    let sig = unhex(parts.sig).ok_or(ContextError::Malformed)?;
    let mut mac = keyed(key)?;
    mac.update(&token.as_bytes()[..token.len() - SIG_HEX]);
    mac.verify_slice(&sig)
        .map_err(|_| ContextError::BadSignature)?;
    let claims = claims_of(&parts.fields)?;
    if now.as_secs() >= claims.exp {
        return Err(ContextError::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
#[path = "context_tests.rs"]
mod tests;
