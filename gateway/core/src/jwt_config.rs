//! Issuer configuration for [`crate::jwt::JwtVerifier`]: keys from JWKS with pinned
//! algorithms, audiences, leeway, and where the organisation, roles and permissions claims
//! live. Validated once, when built.

use std::collections::HashMap;

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use serde_json::Value;

use crate::jwt::{Organisation, TokenError, VerifiedToken};
use crate::resolve::TenantRef;

/// Why an issuer configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtConfigError {
    /// The JWKS is not JSON with a `keys` array.
    #[error("JWKS is not a JSON object with a `keys` array")]
    JwksShape,
    /// A key lacks `kid` or `alg`, or two keys share a `kid`.
    #[error("JWKS key {0}: needs a unique `kid` and an `alg`")]
    KeyIdentity(usize),
    /// A key's `alg` is unknown, symmetric, or does not match its key type, or `use` is not `sig`.
    #[error("JWKS key {0}: algorithm not usable for this key")]
    KeyAlgorithm(usize),
    /// A key could not be decoded.
    #[error("JWKS key {0}: malformed key material")]
    KeyMaterial(usize),
    /// No issuer, no audience, or no key.
    #[error("issuer configuration needs an issuer, an audience and at least one key")]
    Incomplete,
}

/// A dot-separated path into the claims (`o.id` reads `{"o": {"id": ...}}`; `org_id`
/// reads a top-level claim). Claim names containing dots cannot be addressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPath(Vec<String>);

impl ClaimPath {
    /// Parses `path`; empty segments are dropped.
    pub fn new(path: &str) -> Self {
        Self(
            path.split('.')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    fn lookup<'a>(&self, claims: &'a Value) -> Option<&'a Value> {
        self.0.iter().try_fold(claims, |v, seg| v.get(seg))
    }
}

/// Where the organisation claim is and how it names a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgClaim {
    /// The claim holds the tenant's id (uuid).
    TenantId(ClaimPath),
    /// The claim holds the tenant's slug.
    TenantSlug(ClaimPath),
}

/// One token issuer.
#[derive(Debug)]
pub struct IssuerConfig {
    pub(crate) issuer: String,
    pub(crate) audiences: Vec<String>,
    pub(crate) authorized_parties: Option<Vec<String>>,
    pub(crate) keys: HashMap<String, (Algorithm, DecodingKey)>,
    pub(crate) leeway_secs: u64,
    org: OrgClaim,
    roles: Option<ClaimPath>,
    permissions: Option<ClaimPath>,
    platform_roles: Option<ClaimPath>,
}

impl IssuerConfig {
    /// An issuer `iss` accepting `audiences`, with the keys of `jwks_json`.
    ///
    /// Defaults: leeway 30 s, no `azp` check, organisation claim `org_id` holding a tenant
    /// id, roles from `roles`, permissions from `perms`.
    ///
    /// Fails unless every key has a unique `kid`, an asymmetric `alg` matching its key type
    /// and (if present) `use: "sig"`, and unless issuer, audiences and keys are non-empty.
    pub fn from_jwks(
        issuer: &str,
        audiences: &[&str],
        jwks_json: &str,
    ) -> Result<Self, JwtConfigError> {
        let jwks: Value = serde_json::from_str(jwks_json).map_err(|_| JwtConfigError::JwksShape)?;
        let list = jwks
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(JwtConfigError::JwksShape)?;
        let mut keys = HashMap::new();
        for (i, jwk) in list.iter().enumerate() {
            let text = |k: &str| jwk.get(k).and_then(Value::as_str);
            let (Some(kid), Some(alg)) = (text("kid"), text("alg")) else {
                return Err(JwtConfigError::KeyIdentity(i));
            };
            let alg: Algorithm = alg.parse().map_err(|_| JwtConfigError::KeyAlgorithm(i))?;
            if alg.family() == AlgorithmFamily::Hmac || text("use").is_some_and(|u| u != "sig") {
                return Err(JwtConfigError::KeyAlgorithm(i));
            }
            let parsed: Jwk =
                serde_json::from_value(jwk.clone()).map_err(|_| JwtConfigError::KeyMaterial(i))?;
            let key = DecodingKey::from_jwk(&parsed).map_err(|_| JwtConfigError::KeyMaterial(i))?;
            if key.family() != alg.family() {
                return Err(JwtConfigError::KeyAlgorithm(i));
            }
            if keys.insert(kid.to_owned(), (alg, key)).is_some() {
                return Err(JwtConfigError::KeyIdentity(i));
            }
        }
        if issuer.is_empty() || audiences.is_empty() || keys.is_empty() {
            return Err(JwtConfigError::Incomplete);
        }
        Ok(Self {
            issuer: issuer.to_owned(),
            audiences: audiences.iter().map(|a| (*a).to_owned()).collect(),
            authorized_parties: None,
            keys,
            leeway_secs: 30,
            org: OrgClaim::TenantId(ClaimPath::new("org_id")),
            roles: Some(ClaimPath::new("roles")),
            permissions: Some(ClaimPath::new("perms")),
            platform_roles: None,
        })
    }

    /// Sets the clock-skew leeway for `exp` and `nbf`, in seconds.
    pub fn with_leeway(mut self, secs: u64) -> Self {
        self.leeway_secs = secs;
        self
    }

    /// Requires `azp` to be present and one of `parties`.
    pub fn with_authorized_parties(mut self, parties: &[&str]) -> Self {
        self.authorized_parties = Some(parties.iter().map(|p| (*p).to_owned()).collect());
        self
    }

    /// Sets where the organisation claim is (Clerk: `OrgClaim::TenantSlug(ClaimPath::new("o.slg"))`
    /// or an id in `o.id`; others: `org_id`).
    pub fn with_org_claim(mut self, org: OrgClaim) -> Self {
        self.org = org;
        self
    }

    /// Sets (or with `None`, disables) the roles and permissions claims. Each may hold an
    /// array of strings or one string of comma- or space-separated values.
    pub fn with_role_claims(mut self, roles: Option<ClaimPath>, perms: Option<ClaimPath>) -> Self {
        self.roles = roles;
        self.permissions = perms;
        self
    }

    /// Trusts this issuer for platform roles, read from `claim` (for example
    /// `platform_roles`). Only the platform's own identity provider should be: a token whose
    /// claim holds `platform_admin` administers every tenant. Issuers without it (tenants'
    /// and shared ones) never make a platform admin, whatever their tokens say.
    pub fn with_platform_roles(mut self, claim: ClaimPath) -> Self {
        self.platform_roles = Some(claim);
        self
    }

    pub(crate) fn check_azp(&self, claims: &Value) -> Result<(), TokenError> {
        match &self.authorized_parties {
            None => Ok(()),
            Some(parties) => match claims.get("azp").and_then(Value::as_str) {
                Some(azp) if parties.iter().any(|p| p == azp) => Ok(()),
                _ => Err(TokenError::TokenAudience),
            },
        }
    }

    /// The claims the gateway uses, from verified `claims`.
    pub(crate) fn extract(&self, claims: &Value) -> VerifiedToken {
        let organisation = match &self.org {
            OrgClaim::TenantId(path) => org(path.lookup(claims), |s| s.parse().map(TenantRef::Id)),
            OrgClaim::TenantSlug(path) => {
                org(path.lookup(claims), |s| s.parse().map(TenantRef::Slug))
            }
        };
        let token = VerifiedToken {
            issuer: self.issuer.clone(),
            subject: claims.get("sub").and_then(Value::as_str).map(str::to_owned),
            organisation,
            roles: list(self.roles.as_ref().and_then(|p| p.lookup(claims))),
            permissions: list(self.permissions.as_ref().and_then(|p| p.lookup(claims))),
            expires_at: claims.get("exp").and_then(Value::as_u64).unwrap_or(0),
            platform_roles: list(self.platform_roles.as_ref().and_then(|p| p.lookup(claims))),
            email: claims
                .get("email")
                .and_then(Value::as_str)
                .filter(|e| e.len() <= 320)
                .map(str::to_owned),
            platform_issuer: false,
        };
        self.confine(token)
    }

    /// What this issuer may say: an issuer trusted for platform roles is the platform's, and
    /// its tokens are never tenant credentials, so their organisation, roles and permissions
    /// claims are ignored (emptied) and the token is marked [`VerifiedToken::platform_issuer`];
    /// any other issuer never carries platform roles.
    pub(crate) fn confine(&self, mut token: VerifiedToken) -> VerifiedToken {
        token.platform_issuer = self.platform_roles.is_some();
        if token.platform_issuer {
            token.organisation = Organisation::None;
            token.roles.clear();
            token.permissions.clear();
        } else {
            token.platform_roles.clear();
        }
        token
    }
}

fn org<E>(value: Option<&Value>, parse: impl Fn(&str) -> Result<TenantRef, E>) -> Organisation {
    match value {
        None | Some(Value::Null) => Organisation::None,
        Some(v) => match v.as_str().map(parse) {
            Some(Ok(r)) => Organisation::Names(r),
            _ => Organisation::Unrecognised,
        },
    }
}

fn list<T: std::str::FromStr>(value: Option<&Value>) -> Vec<T> {
    let strings: Vec<&str> = match value {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(s)) => s.split([',', ' ']).collect(),
        _ => Vec::new(),
    };
    strings
        .into_iter()
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}
