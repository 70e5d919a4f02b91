//! Platform administration: who is a platform admin, the apex's platform surface
//! (`/platform`, the console, and `/api/platform`, its API), and break-glass access to one
//! tenant on that tenant's own host.
//!
//! - A **platform admin** is a verified bearer token from an issuer configured with a
//!   platform-roles claim ([`crate::jwt_config::IssuerConfig::with_platform_roles`]) whose claim
//!   holds [`ADMIN_ROLE`]. No other issuer can make one, and the permissions that mark platform
//!   power in a context (`platform.*`) are dropped from every tenant token and session
//!   ([`is_platform_permission`]), so a tenant's own IdP cannot grant them.
//! - On the **apex**, the platform surface is routed before tenant resolution, with a
//!   [`PlatformGrant`] in its [`crate::routes::Permit`]: the console's files to anyone, the API only to platform admins (401 without
//!   a token, 403 `platform_admin_required` with another's). The context names no tenant (the
//!   nil id), or, under `/api/platform/tenants/{slug}`, that tenant (whatever its status), so
//!   the SQL functions act on the tenant the gateway resolved and nothing else. It holds
//!   [`ADMIN_PERMISSION`], which Postgres checks (migration 0013).
//! - The platform's issuer is **never a tenant credential**: its tokens' organisation, roles
//!   and permissions claims are ignored when verified
//!   ([`crate::jwt::VerifiedToken::platform_issuer`]), so on the apex such a token names no
//!   tenant, and on a tenant host (subdomain or custom domain) it is never bound as a member,
//!   whatever it claims.
//! - On a **tenant host** these paths do not exist (404). A platform admin's token there is
//!   accepted only under an active break-glass grant for that tenant, looked up, and written
//!   to the tenant's audit log, on every request ([`crate::tenant::TenantDirectory::break_glass`]);
//!   without one it is 403 `break_glass_required`, and a platform-issuer token without the
//!   role is 403 `platform_admin_required`.
//!   Its permissions are the grant's (read-only: the catalogue's `*.read`) plus
//!   [`BREAK_GLASS_PERMISSION`]; a read-only grant's context is read-only.

use std::net::IpAddr;

use sha2::{Digest as _, Sha256};

use crate::context::ContextClaims;
use crate::ids::{Permission, RequestId, RoleName, TenantId, TenantSlug};
use crate::jwt::VerifiedToken;
use crate::tenant::TenantRecord;
use tenant_contract::headers::PLATFORM_ADMIN_HEADER;
use tenant_contract::placement::Placement;

/// The platform role that makes a platform admin.
pub const ADMIN_ROLE: &str = "platform_admin";
/// The context permission of a platform admin on the platform surface.
pub const ADMIN_PERMISSION: &str = "platform.admin";
/// The context permission of a platform admin inside a tenant under a break-glass grant.
pub const BREAK_GLASS_PERMISSION: &str = "platform.break_glass";
/// The console's path prefix.
pub const CONSOLE_PREFIX: &str = "/platform";
/// The API's path prefix.
pub const API_PREFIX: &str = "/api/platform";
/// The context's tenant on the platform surface when the path names none.
pub const NO_TENANT: uuid::Uuid = uuid::Uuid::nil();

/// Whether `permission` marks platform power (`platform.*`): never taken from a tenant's
/// token or session.
pub fn is_platform_permission(permission: &str) -> bool {
    permission.starts_with("platform.")
}

/// A verified platform admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformAdmin {
    /// The admin's id: the token's `sub` when it is a uuid, else one derived from the
    /// issuer and `sub` (stable, and distinct per issuer).
    pub id: uuid::Uuid,
    /// What people see: the token's `email`, else its `sub`.
    pub label: String,
}

impl PlatformAdmin {
    /// The platform admin a verified token makes, if it does: a `sub`, and [`ADMIN_ROLE`]
    /// among its platform roles (only issuers trusted for platform roles fill those).
    pub fn of(token: &VerifiedToken) -> Option<PlatformAdmin> {
        let subject = token.subject.as_deref().filter(|s| !s.is_empty())?;
        if !token
            .platform_roles
            .iter()
            .any(|r| r.as_str() == ADMIN_ROLE)
        {
            return None;
        }
        let id = uuid::Uuid::parse_str(subject).unwrap_or_else(|_| {
            let digest = Sha256::new()
                .chain_update(b"tenantgate platform admin\n")
                .chain_update(token.issuer.as_bytes())
                .chain_update(b"\n")
                .chain_update(subject.as_bytes())
                .finalize();
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(&digest[..16]);
            uuid::Builder::from_custom_bytes(bytes).into_uuid()
        });
        let label: String = token
            .email
            .as_deref()
            .unwrap_or(subject)
            .chars()
            .filter(|c| !c.is_control())
            .take(320)
            .collect();
        Some(PlatformAdmin { id, label })
    }
}

/// Which part of the platform surface a path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Surface {
    /// `/platform` and below: the console's static files.
    Console,
    /// `/api/platform` and below, naming no tenant.
    Api,
    /// `/api/platform/tenants/{slug}` and below: the API about one tenant (the raw segment).
    Tenant(String),
}

/// The platform surface `path` (no query) is on, if any (segment-aligned prefixes).
pub fn surface(path: &str) -> Option<Surface> {
    let under = |prefix: &str| {
        path.strip_prefix(prefix)
            .filter(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    if under(CONSOLE_PREFIX).is_some() {
        return Some(Surface::Console);
    }
    let rest = under(API_PREFIX)?;
    let mut segments = rest.split('/').skip(1);
    match (segments.next(), segments.next()) {
        (Some("tenants"), Some(slug)) if !slug.is_empty() => Some(Surface::Tenant(slug.to_owned())),
        _ => Some(Surface::Api),
    }
}

/// Parses the slug segment of [`Surface::Tenant`]; `None` when it cannot name a tenant.
pub fn slug(segment: &str) -> Option<TenantSlug> {
    segment.parse().ok()
}

/// One break-glass access, as the directory records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakGlassAccess<'a> {
    /// The tenant whose host the request is on.
    pub tenant: TenantId,
    /// The admin.
    pub admin: &'a PlatformAdmin,
    /// The request's method.
    pub method: &'a str,
    /// The request's path (no query).
    pub path: &'a str,
    /// The request id.
    pub request_id: &'a RequestId,
    /// The client's address, if the host gave one.
    pub client_addr: Option<IpAddr>,
}

/// An active break-glass grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakGlassGrant {
    /// The grant.
    pub id: uuid::Uuid,
    /// Read-only (the default).
    pub read_only: bool,
    /// The permissions it confers (read-only: the catalogue's `*.read`; plus
    /// [`BREAK_GLASS_PERMISSION`]).
    pub permissions: Vec<Permission>,
}

/// What the platform surface grants a request on the apex: a context for the tenant the
/// path names (the nil tenant when none) holding [`ADMIN_PERMISSION`] only for an admin,
/// forwarded as from the apex, with the admin named to the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformGrant {
    admin: Option<PlatformAdmin>,
    tenant: Option<TenantRecord>,
    apex: String,
}

impl PlatformGrant {
    /// The grant for `admin` (none: the console's files, to anyone) about `tenant`.
    pub fn new(admin: Option<PlatformAdmin>, tenant: Option<TenantRecord>, apex: &str) -> Self {
        Self {
            admin,
            tenant,
            apex: apex.to_owned(),
        }
    }

    /// The host the backend is told the request came to: the apex.
    pub fn host(&self) -> &str {
        &self.apex
    }

    /// The header naming the admin to the backend ([`PLATFORM_ADMIN_HEADER`]), for an admin.
    pub fn admin_header(&self) -> Option<(&'static str, &str)> {
        let admin = self.admin.as_ref()?;
        Some((PLATFORM_ADMIN_HEADER, admin.label.as_str()))
    }

    /// The context's claims, expiring at `exp` (Unix seconds).
    pub fn claims(&self, request_id: &RequestId, exp: u64) -> ContextClaims {
        let (tid, slug, placement) = match &self.tenant {
            Some(t) => (t.id, t.slug.clone(), t.placement.clone()),
            None => (
                TenantId::from(NO_TENANT),
                "platform".parse().expect("a valid slug"),
                Placement::Shared,
            ),
        };
        let role: RoleName = ADMIN_ROLE.parse().expect("a valid role name");
        let permission: Permission = ADMIN_PERMISSION.parse().expect("a valid permission");
        let admin = self.admin.as_ref();
        ContextClaims {
            tid,
            slug,
            placement,
            uid: admin.map(|a| a.id),
            roles: admin.map(|_| vec![role]).unwrap_or_default(),
            perms: admin.map(|_| vec![permission]).unwrap_or_default(),
            rid: request_id.clone(),
            exp,
            ro: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(sub: &str, roles: &[&str]) -> VerifiedToken {
        VerifiedToken {
            issuer: "https://platform.example".into(),
            subject: Some(sub.into()),
            organisation: crate::jwt::Organisation::None,
            roles: Vec::new(),
            permissions: Vec::new(),
            expires_at: 0,
            platform_roles: roles.iter().map(|r| r.parse().unwrap()).collect(),
            email: None,
            platform_issuer: true,
        }
    }

    #[test]
    fn surfaces_are_segment_aligned() {
        assert_eq!(surface("/platform"), Some(Surface::Console));
        assert_eq!(surface("/platform/app.js"), Some(Surface::Console));
        assert_eq!(surface("/platformx"), None);
        assert_eq!(surface("/api/platform"), Some(Surface::Api));
        assert_eq!(surface("/api/platform/tenants"), Some(Surface::Api));
        assert_eq!(surface("/api/platform/tenants/"), Some(Surface::Api));
        assert_eq!(
            surface("/api/platform/tenants/acme/suspend"),
            Some(Surface::Tenant("acme".into()))
        );
        assert_eq!(surface("/api/platforms"), None);
        assert_eq!(surface("/api/tasks"), None);
    }

    #[test]
    fn only_the_platform_role_makes_an_admin_with_a_stable_id() {
        assert!(PlatformAdmin::of(&token("ops-1", &[])).is_none());
        assert!(PlatformAdmin::of(&token("ops-1", &["admin"])).is_none());
        let a = PlatformAdmin::of(&token("ops-1", &[ADMIN_ROLE])).unwrap();
        let b = PlatformAdmin::of(&token("ops-1", &[ADMIN_ROLE])).unwrap();
        let c = PlatformAdmin::of(&token("ops-2", &[ADMIN_ROLE])).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.id, c.id);
        assert_eq!(a.label, "ops-1");
        let id = uuid::Uuid::from_u128(0x5eed_0001);
        let d = PlatformAdmin::of(&token(&id.to_string(), &[ADMIN_ROLE])).unwrap();
        assert_eq!(d.id, id);
        let mut other_issuer = token("ops-1", &[ADMIN_ROLE]);
        other_issuer.issuer = "https://other.example".into();
        assert_ne!(PlatformAdmin::of(&other_issuer).unwrap().id, a.id);
    }

    #[test]
    fn platform_permissions_are_recognised() {
        assert!(is_platform_permission(ADMIN_PERMISSION));
        assert!(is_platform_permission(BREAK_GLASS_PERMISSION));
        assert!(!is_platform_permission("tasks.read"));
    }
}
