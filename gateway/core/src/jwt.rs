//! Bearer JWT verification (docs/architecture.md §4), with the verified claims cached.
//!
//! Per issuer: the `iss` value, the accepted audiences, and keys from a JWKS document with
//! the algorithm pinned per `kid` (a key without `kid` and `alg` is refused at
//! configuration time, as are symmetric keys). A token is refused when its header carries
//! `jku`, `x5u`, `jwk`, `x5c` or `crit`, when its `alg` is `none` or not the one pinned for
//! its `kid`, when the signature fails, and when `exp`, `nbf`, `iss`, `aud` (or `azp`, if
//! configured) do not hold at `now` within a small leeway.
//!
//! Signature checks are the expensive part (an RS256 verification costs about 1 ms in
//! wasm), so [`JwtVerifier::verify`] caches the verified claims under the SHA-256 of the
//! token, in a bounded [`SlotCache`], until the token's `exp` (at most
//! [`JwtVerifier::with_cache`]'s TTL). A second request with the same token does not
//! verify the signature again.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::ids::{Permission, RoleName};
use crate::kv::{KvCache, SlotCache, UnixMillis};
use crate::resolve::TenantRef;

pub use crate::jwt_config::{ClaimPath, IssuerConfig, JwtConfigError, OrgClaim};

/// Tokens longer than this are refused unparsed.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Why a bearer token was refused. Every variant answers 401 `invalid_token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts of JSON, too long, or an unusable `Authorization` header.
    #[error("malformed token")]
    TokenMalformed,
    /// The header carries `jku`, `x5u`, `jwk`, `x5c` or `crit`.
    #[error("forbidden token header parameter")]
    TokenHeaderForbidden,
    /// `alg` is `none`, unknown, or not the algorithm pinned for the `kid`.
    #[error("token algorithm not accepted")]
    TokenAlgorithm,
    /// No `kid`, or a `kid` the issuer does not have.
    #[error("unknown token key")]
    TokenUnknownKey,
    /// The signature does not verify.
    #[error("bad token signature")]
    TokenSignature,
    /// `exp` is in the past (beyond the leeway).
    #[error("token expired")]
    TokenExpired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("token not yet valid")]
    TokenNotYetValid,
    /// `iss` is missing or not a configured issuer.
    #[error("token issuer not accepted")]
    TokenIssuer,
    /// `aud` is missing or names none of the issuer's audiences, or `azp` is not accepted.
    #[error("token audience not accepted")]
    TokenAudience,
    /// A required claim (`exp`) is missing or not a number.
    #[error("token claim missing")]
    TokenMissingClaim,
    /// On a tenant host, a verified token that names no organisation.
    #[error("token names no organisation")]
    TokenOrganisationMissing,
}

/// The organisation a verified token names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Organisation {
    /// The token has no organisation claim.
    None,
    /// The claim names a tenant by id or slug (as the issuer is configured).
    Names(TenantRef),
    /// The claim is present but is not a valid id or slug: it names no tenant.
    Unrecognised,
}

/// The claims of a verified token that the gateway uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedToken {
    /// `iss`.
    pub issuer: String,
    /// `sub`, if present.
    pub subject: Option<String>,
    /// The organisation claim, interpreted.
    pub organisation: Organisation,
    /// Valid role names from the roles claim (invalid entries are dropped).
    pub roles: Vec<RoleName>,
    /// Valid permissions from the permissions claim (invalid entries are dropped).
    pub permissions: Vec<Permission>,
    /// `exp`, unix seconds.
    pub expires_at: u64,
    /// Platform roles, only from an issuer configured with a platform-roles claim
    /// ([`crate::jwt_config::IssuerConfig::with_platform_roles`]); empty otherwise.
    #[serde(default)]
    pub platform_roles: Vec<RoleName>,
    /// `email`, if present (a platform admin's label).
    #[serde(default)]
    pub email: Option<String>,
    /// Whether the issuer can mint platform roles (its entry has a platform-roles claim).
    /// Such a token is never a tenant credential: its organisation, roles and permissions
    /// claims are ignored (left empty here), and on a tenant host it works only through a
    /// break-glass grant ([`crate::platform`]).
    #[serde(default)]
    pub platform_issuer: bool,
}

/// Verifies bearer tokens against a set of issuers, caching verified claims.
#[derive(Debug)]
pub struct JwtVerifier {
    issuers: HashMap<String, IssuerConfig>,
    cache: SlotCache,
}

impl JwtVerifier {
    /// A verifier for `issuers` (by `iss`), caching up to 16,384 tokens for at most 5
    /// minutes each (never past their `exp`).
    pub fn new(issuers: impl IntoIterator<Item = IssuerConfig>) -> Self {
        let issuers = issuers.into_iter().map(|i| (i.issuer.clone(), i)).collect();
        Self {
            issuers,
            cache: SlotCache::new("tg:jwt", 16_384, 300_000),
        }
    }

    /// Replaces the cache bounds: `slots` entries, each kept at most `max_ttl_ms`.
    pub fn with_cache(mut self, slots: u32, max_ttl_ms: u64) -> Self {
        self.cache = SlotCache::new("tg:jwt", slots, max_ttl_ms);
        self
    }

    /// Verifies `token`, answering from the cache when the same token was verified before
    /// and has not expired. Cache failures fall back to full verification.
    pub fn verify(
        &self,
        token: &str,
        kv: &impl KvCache,
        now: UnixMillis,
    ) -> Result<VerifiedToken, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TokenMalformed);
        }
        let key = Sha256::digest(token.as_bytes());
        if let Some(payload) = self.cache.get(kv, &key, now) {
            if let Ok(hit) = serde_json::from_slice::<VerifiedToken>(&payload) {
                if let Some(issuer) = self.issuers.get(&hit.issuer) {
                    if now.as_secs() < hit.expires_at {
                        // What the issuer may say is decided by today's configuration, not
                        // by what was cached.
                        return Ok(issuer.confine(hit));
                    }
                }
            }
        }
        let verified = self.verify_uncached(token, now)?;
        if let Ok(payload) = serde_json::to_vec(&verified) {
            let exp = UnixMillis(verified.expires_at.saturating_mul(1000));
            self.cache.put(kv, &key, &payload, now, exp);
        }
        Ok(verified)
    }

    /// Verifies `token` fully (header, signature, claims), without the cache.
    pub fn verify_uncached(
        &self,
        token: &str,
        now: UnixMillis,
    ) -> Result<VerifiedToken, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TokenMalformed);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(_sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::TokenMalformed);
        };
        let header = decode_json(header)?;
        let (alg, kid) = check_header(&header)?;
        // Only to pick the issuer's keys; the signature and `iss` are verified below.
        let unverified = decode_json(payload)?;
        let iss = unverified
            .get("iss")
            .and_then(Value::as_str)
            .ok_or(TokenError::TokenIssuer)?;
        let issuer = self.issuers.get(iss).ok_or(TokenError::TokenIssuer)?;
        let (pinned, key) = issuer.keys.get(kid).ok_or(TokenError::TokenUnknownKey)?;
        if alg != *pinned {
            return Err(TokenError::TokenAlgorithm);
        }
        let claims = decode_verified(token, key, issuer, alg)?;
        check_times(&claims, now, issuer.leeway_secs)?;
        issuer.check_azp(&claims)?;
        Ok(issuer.extract(&claims))
    }
}

fn decode_json(part: &str) -> Result<Value, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::TokenMalformed)?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| TokenError::TokenMalformed)?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(TokenError::TokenMalformed)
    }
}

/// Refuses embedded or remote keys and `crit`, and returns the `alg` and `kid`.
fn check_header(header: &Value) -> Result<(Algorithm, &str), TokenError> {
    if ["jku", "x5u", "jwk", "x5c", "crit"]
        .iter()
        .any(|p| header.get(p).is_some())
    {
        return Err(TokenError::TokenHeaderForbidden);
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(TokenError::TokenAlgorithm)?;
    let alg: Algorithm = alg.parse().map_err(|_| TokenError::TokenAlgorithm)?;
    if alg.family() == AlgorithmFamily::Hmac {
        return Err(TokenError::TokenAlgorithm);
    }
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or(TokenError::TokenUnknownKey)?;
    Ok((alg, kid))
}

fn decode_verified(
    token: &str,
    key: &DecodingKey,
    issuer: &IssuerConfig,
    alg: Algorithm,
) -> Result<Value, TokenError> {
    use jsonwebtoken::errors::ErrorKind as K;
    let mut validation = Validation::new(alg);
    // Time is checked by `check_times` against the `now` passed in, never the system clock.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_required_spec_claims(&["iss", "aud"]);
    validation.set_issuer(&[&issuer.issuer]);
    validation.set_audience(&issuer.audiences);
    match jsonwebtoken::decode::<Value>(token, key, &validation) {
        Ok(data) => Ok(data.claims),
        Err(e) => Err(match e.kind() {
            K::InvalidSignature => TokenError::TokenSignature,
            K::InvalidIssuer => TokenError::TokenIssuer,
            K::MissingRequiredClaim(c) if c == "iss" => TokenError::TokenIssuer,
            K::InvalidAudience | K::MissingRequiredClaim(_) => TokenError::TokenAudience,
            K::InvalidAlgorithm | K::MissingAlgorithm => TokenError::TokenAlgorithm,
            _ => TokenError::TokenMalformed,
        }),
    }
}

fn check_times(claims: &Value, now: UnixMillis, leeway: u64) -> Result<(), TokenError> {
    let now = now.as_secs();
    let exp = claims
        .get("exp")
        .and_then(Value::as_u64)
        .ok_or(TokenError::TokenMissingClaim)?;
    if now >= exp.saturating_add(leeway) {
        return Err(TokenError::TokenExpired);
    }
    match claims.get("nbf") {
        None => Ok(()),
        Some(nbf) => match nbf.as_u64() {
            Some(nbf) if nbf <= now.saturating_add(leeway) => Ok(()),
            Some(_) => Err(TokenError::TokenNotYetValid),
            None => Err(TokenError::TokenMalformed),
        },
    }
}

#[cfg(test)]
#[path = "jwt_tests.rs"]
pub(crate) mod tests;
