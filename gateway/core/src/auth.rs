//! Authentication: binds the request's credentials to the admitted tenant.
//!
//! A bearer token is optional here (anonymous requests get a [`Principal`] with no
//! subject, roles or permissions). A verified token must name the tenant it is used on:
//! on a tenant host (subdomain or custom domain), a token whose organisation claim names a
//! different tenant, or nothing recognisable, is refused with 421 `tenant_mismatch`, and a
//! token naming no organisation with 401, so a token issued for tenant A never carries its
//! roles into tenant B. [`Principal`] can only be built here.

use crate::ids::{Permission, RoleName};
use crate::jwt::{JwtVerifier, Organisation, TokenError, VerifiedToken};
use crate::kv::{KvCache, UnixMillis};
use crate::lifecycle::ActiveTenant;
use crate::resolve::{ResolveError, ResolvedVia, TenantRef};

/// What the request presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials<'a> {
    /// Nothing.
    Anonymous,
    /// A bearer token, not yet verified.
    Bearer(&'a str),
    /// A bearer token already verified (on the apex, resolution needed it first).
    Verified(VerifiedToken),
}

/// Why the credentials were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// 401 `invalid_token`.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The token names another tenant than the host: 421 `tenant_mismatch`.
    #[error("token names a different tenant than the host")]
    TenantMismatch,
}

/// Who is calling, inside which active tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    tenant: ActiveTenant,
    authenticated: bool,
    subject: Option<String>,
    user_id: Option<uuid::Uuid>,
    roles: Vec<RoleName>,
    permissions: Vec<Permission>,
}

impl Principal {
    /// The admitted tenant.
    pub fn tenant(&self) -> &ActiveTenant {
        &self.tenant
    }
    /// The token's `sub`; `None` when anonymous.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }
    /// The user id for the tenant context: the token's `sub` when it is a uuid, else `None`
    /// (mapping external subjects to users is the membership stage's job).
    pub fn user_id(&self) -> Option<uuid::Uuid> {
        self.user_id
    }
    /// Roles from the token (empty when anonymous).
    pub fn roles(&self) -> &[RoleName] {
        &self.roles
    }
    /// Permissions from the token (empty when anonymous).
    pub fn permissions(&self) -> &[Permission] {
        &self.permissions
    }
    /// Whether the request carried a verified token.
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }
}

/// The bearer token from `Authorization` headers: `Ok(None)` without one or with another
/// scheme, [`TokenError::TokenMalformed`] for several `Authorization` headers or a bearer
/// value that is not visible ASCII.
pub fn bearer_token(headers: &[(String, Vec<u8>)]) -> Result<Option<&str>, TokenError> {
    let mut values = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("authorization"));
    let Some((_, value)) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(TokenError::TokenMalformed);
    }
    let value = std::str::from_utf8(value).map_err(|_| TokenError::TokenMalformed)?;
    let Some((scheme, token)) = value.trim().split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = token.trim();
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(TokenError::TokenMalformed);
    }
    Ok(Some(token))
}

/// The tenant a verified token names on the apex: `Ok(None)` without a token or without an
/// organisation claim (resolution then asks for one), [`ResolveError::UnknownTenant`] for a
/// claim that names no tenant.
pub fn apex_organisation(
    token: Option<&VerifiedToken>,
) -> Result<Option<&TenantRef>, ResolveError> {
    match token.map(|t| &t.organisation) {
        Some(Organisation::Names(r)) => Ok(Some(r)),
        Some(Organisation::Unrecognised) => Err(ResolveError::UnknownTenant),
        Some(Organisation::None) | None => Ok(None),
    }
}

/// Verifies (if needed) the credentials and binds them to `tenant`. An anonymous
/// request gets `anonymous` as its permissions (the deployment's choice; empty by
/// default, so anonymous requests can do nothing a permission guards).
pub fn authenticate(
    tenant: ActiveTenant,
    credentials: Credentials<'_>,
    verifier: &JwtVerifier,
    anonymous: &[Permission],
    kv: &impl KvCache,
    now: UnixMillis,
) -> Result<Principal, AuthError> {
    let token = match credentials {
        Credentials::Anonymous => {
            return Ok(Principal {
                tenant,
                authenticated: false,
                subject: None,
                user_id: None,
                roles: Vec::new(),
                permissions: anonymous.to_vec(),
            })
        }
        Credentials::Bearer(raw) => verifier.verify(raw, kv, now)?,
        Credentials::Verified(token) => token,
    };
    match (&token.organisation, tenant.via()) {
        (Organisation::Names(r), _) if r.names(tenant.record()) => {}
        (Organisation::None, via) if via != ResolvedVia::ApexToken => {
            return Err(TokenError::TokenOrganisationMissing.into())
        }
        _ => return Err(AuthError::TenantMismatch),
    }
    let user_id = token
        .subject
        .as_deref()
        .and_then(|s| uuid::Uuid::parse_str(s).ok());
    Ok(Principal {
        tenant,
        authenticated: true,
        user_id,
        subject: token.subject,
        roles: token.roles,
        permissions: token.permissions,
    })
}
