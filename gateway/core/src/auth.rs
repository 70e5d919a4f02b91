//! Authentication: who is calling, as one stage with typed credentials.
//!
//! - [`credentials`] reads what the request presents, syntax only: [`Credentials`] is a
//!   bearer token, a session (SSO; uninhabited until it lands) or nothing;
//! - [`authenticate`] verifies them into an [`Identity`]. It is the one place the JWT
//!   verifier is entered, once per request;
//! - [`bind`] binds the identity to the admitted tenant: a verified token must name the
//!   tenant it is used on. On a tenant host (subdomain or custom domain), a token whose
//!   organisation claim names a different tenant, or nothing recognisable, is refused with
//!   421 `tenant_mismatch`, and a token naming no organisation with 401, so a token issued
//!   for tenant A never carries its roles into tenant B. [`Principal`] is built only here.
//!   A token from an issuer trusted for platform roles is never bound: it is no tenant's
//!   credential (its organisation, roles and permissions claims are ignored when it is
//!   verified), and works on a tenant host only as a platform admin's under a break-glass
//!   grant ([`crate::platform`]).
//!
//! On the apex host the verified token itself names the tenant, so the pipeline
//! authenticates before resolution there and hands resolution the identity
//! ([`apex_organisation`]); everywhere else it authenticates after admission, so an
//! unknown or suspended tenant is answered before any token is looked at.

use crate::ids::{Permission, RoleName};
use crate::jwt::{Organisation, TokenError, VerifiedToken};
use crate::kv::{KvCache, UnixMillis};
use crate::lifecycle::ActiveTenant;
use crate::ports::{JwksSource, KeysUnavailable};
use crate::resolve::{ResolveError, ResolvedVia, TenantRef};

use crate::sso::session::{SessionError, SessionIdentity, COOKIE, SECURE_COOKIE};

/// What the request presents, unverified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials<'a> {
    /// Nothing.
    Anonymous,
    /// A bearer token (`Authorization: Bearer ...`).
    Bearer(&'a str),
    /// A session cookie's value (`tg_session`, or `__Host-tg_session` over TLS).
    Session(&'a str),
}

/// Verified credentials: who the caller is, before it is bound to a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// No credentials.
    Anonymous,
    /// A verified bearer token.
    Token(VerifiedToken),
    /// A verified session.
    Session(SessionIdentity),
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
    /// The identity-provider keys could not be read: 503 `dependency_unavailable`.
    #[error(transparent)]
    Keys(#[from] KeysUnavailable),
    /// The session cookie was refused: 401 `session_invalid` (503 when its state is unknown).
    #[error(transparent)]
    Session(#[from] SessionError),
    /// A state-changing request with a session cookie from another origin: 403 `csrf_failed`.
    #[error("cross-site request with a session cookie")]
    Csrf,
    /// The tenant enforces SSO and the request used a bearer token: 403 `sso_required`.
    #[error("tenant enforces SSO")]
    SsoRequired,
    /// The platform API without a bearer token: 401 `unauthenticated`.
    #[error("the platform API needs a platform admin's token")]
    PlatformTokenMissing,
    /// The platform API with a token that is not a platform admin's: 403
    /// `platform_admin_required`.
    #[error("not a platform admin")]
    PlatformAdminRequired,
    /// A platform admin's token on a tenant host without an active break-glass grant: 403
    /// `break_glass_required`.
    #[error("no active break-glass grant")]
    BreakGlassRequired,
    /// A token from the platform's issuer without the platform-admin role on a tenant host
    /// (it is never a tenant credential): 403 `platform_admin_required`.
    #[error("a platform token is not a tenant credential")]
    PlatformTokenOnTenant,
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
    via: Via,
    read_only: bool,
}

/// How a principal authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// No credentials.
    Anonymous,
    /// A bearer token.
    Token,
    /// A gateway session (its id, and a renewed cookie to set, if any).
    Session(uuid::Uuid, Option<(String, u64)>),
    /// A platform admin's bearer token under a break-glass grant (its id).
    BreakGlass(uuid::Uuid),
}

impl Principal {
    /// How the caller authenticated.
    pub fn via(&self) -> &Via {
        &self.via
    }
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
    /// Whether the principal may only read (a read-only break-glass grant); the context
    /// says so to backends.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// A platform admin inside `tenant` under `grant` (see [`crate::platform`]): the
    /// grant's permissions, the role `platform_admin`, read-only unless the grant says
    /// otherwise.
    pub fn break_glass(
        tenant: ActiveTenant,
        admin: &crate::platform::PlatformAdmin,
        grant: crate::platform::BreakGlassGrant,
    ) -> Principal {
        Principal {
            tenant,
            authenticated: true,
            subject: Some(admin.label.clone()),
            user_id: Some(admin.id),
            roles: crate::platform::ADMIN_ROLE.parse().into_iter().collect(),
            permissions: grant.permissions,
            via: Via::BreakGlass(grant.id),
            read_only: grant.read_only,
        }
    }
}

/// A tenant's identity never carries platform power: `platform.*` permissions and the
/// `platform_admin` role are dropped from tokens and sessions bound to a tenant.
fn tenant_scoped(
    mut roles: Vec<RoleName>,
    mut permissions: Vec<Permission>,
) -> (Vec<RoleName>, Vec<Permission>) {
    roles.retain(|r| r.as_str() != crate::platform::ADMIN_ROLE);
    permissions.retain(|p| !crate::platform::is_platform_permission(p.as_str()));
    (roles, permissions)
}

/// The request's credentials: a bearer token from its one `Authorization` header, or
/// anonymous without one or with another scheme. [`TokenError::TokenMalformed`] for several
/// `Authorization` headers or a bearer value that is not visible ASCII.
/// Without a bearer token, a session cookie is the credential.
pub fn credentials(headers: &[(String, Vec<u8>)]) -> Result<Credentials<'_>, TokenError> {
    if let Some(token) = bearer_token(headers)? {
        return Ok(Credentials::Bearer(token));
    }
    Ok(crate::sso::cookie(headers, SECURE_COOKIE)
        .or_else(|| crate::sso::cookie(headers, COOKIE))
        .filter(|v| !v.is_empty())
        .map_or(Credentials::Anonymous, Credentials::Session))
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

/// Verifies `credentials`: a bearer token against the identity-provider keys (verified
/// claims cached in `cache`), nothing for an anonymous request. A session cookie is checked
/// by [`crate::sso::session::authenticate`] once the tenant is known; here (the apex, where
/// sessions are not used) it counts as nothing. Fails with
/// [`AuthError::Token`] (401) or [`AuthError::Keys`] (503).
pub fn authenticate(
    credentials: Credentials<'_>,
    keys: &impl JwksSource,
    cache: &impl KvCache,
    now: UnixMillis,
) -> Result<Identity, AuthError> {
    match credentials {
        Credentials::Anonymous => Ok(Identity::Anonymous),
        Credentials::Bearer(raw) => Ok(Identity::Token(keys.verifier()?.verify(raw, cache, now)?)),
        Credentials::Session(_) => Ok(Identity::Anonymous),
    }
}

/// The tenant a verified token names, for resolution on the apex: `Ok(None)` without a
/// token or without an organisation claim (resolution then asks for one),
/// [`ResolveError::UnknownTenant`] for a claim that names no tenant.
pub fn apex_organisation(identity: Option<&Identity>) -> Result<Option<&TenantRef>, ResolveError> {
    match identity {
        // The platform's issuer never names a tenant (its claim is ignored when verified;
        // this holds whatever the token says).
        Some(Identity::Token(t)) if t.platform_issuer => Ok(None),
        Some(Identity::Token(t)) => match &t.organisation {
            Organisation::Names(r) => Ok(Some(r)),
            Organisation::Unrecognised => Err(ResolveError::UnknownTenant),
            Organisation::None => Ok(None),
        },
        Some(Identity::Session(_)) | Some(Identity::Anonymous) | None => Ok(None),
    }
}

/// Whether a verified token names `tenant` in its organisation claim.
pub fn names_tenant(token: &VerifiedToken, tenant: &ActiveTenant) -> bool {
    matches!(&token.organisation, Organisation::Names(r) if r.names(tenant.record()))
}

/// Binds `identity` to `tenant`. An anonymous request gets `anonymous` as its permissions
/// (the deployment's choice; empty by default, so anonymous requests can do nothing a
/// permission guards).
pub fn bind(
    tenant: ActiveTenant,
    identity: Identity,
    anonymous: &[Permission],
) -> Result<Principal, AuthError> {
    let token = match identity {
        Identity::Anonymous => {
            return Ok(Principal {
                tenant,
                authenticated: false,
                subject: None,
                user_id: None,
                roles: Vec::new(),
                permissions: tenant_scoped(Vec::new(), anonymous.to_vec()).1,
                via: Via::Anonymous,
                read_only: false,
            })
        }
        // Never a tenant credential (the pipeline sends it to break-glass first).
        Identity::Token(token) if token.platform_issuer => {
            return Err(AuthError::PlatformTokenOnTenant)
        }
        Identity::Token(token) => token,
        Identity::Session(session) => {
            if session.tenant != tenant.record().id {
                return Err(SessionError::OtherTenant.into());
            }
            let (roles, permissions) = tenant_scoped(session.roles, session.permissions);
            return Ok(Principal {
                tenant,
                authenticated: true,
                subject: None,
                user_id: Some(session.user_id),
                roles,
                permissions,
                via: Via::Session(session.sid, session.renewed),
                read_only: false,
            });
        }
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
    let (roles, permissions) = tenant_scoped(token.roles, token.permissions);
    Ok(Principal {
        tenant,
        authenticated: true,
        user_id,
        subject: token.subject,
        roles,
        permissions,
        via: Via::Token,
        read_only: false,
    })
}
