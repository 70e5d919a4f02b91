//! The route table and the [`Permit`] it grants.
//!
//! Parsed once from a config string such as `"/api/tasks=tasks,/api/projects=tasks"`:
//! comma-separated `prefix=component` entries, each prefix starting with `/`, without a
//! trailing `/` (except the catch-all `/`), dot segments, `?`, `#`, `%`, `\` or spaces, each
//! component a kebab-case Spin component id, no prefix twice. An invalid string gives a
//! deny-all table ([`RouteTable::parse_or_deny`]) and the error to log.
//!
//! Matching picks the longest prefix that ends on a path-segment boundary: `/api/tasks`
//! matches `/api/tasks` and `/api/tasks/1`, never `/api/tasksx`. [`Permit`] can only be
//! built by [`authorise`] (a tenant's principal) or [`authorise_platform`] (the apex's
//! platform surface), so a forwarding plan cannot be made for an unrouted request; it holds
//! the [`Grant`] the backend's context is signed from.

use crate::auth::Principal;
use crate::context::ContextClaims;
use crate::host::RequestTarget;
use crate::ids::{ComponentId, RequestId};
use crate::platform::PlatformGrant;

/// Why a route configuration string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteConfigError {
    /// The string has no entries.
    #[error("route config is empty")]
    Empty,
    /// Entry `n` (0-based) is not `prefix=component`.
    #[error("route entry {0}: expected `prefix=component`")]
    Entry(usize),
    /// Entry `n` has an invalid prefix.
    #[error("route entry {0}: invalid path prefix")]
    Prefix(usize),
    /// Entry `n` names an invalid component id.
    #[error("route entry {0}: invalid component id")]
    Component(usize),
    /// Entry `n` repeats an earlier prefix.
    #[error("route entry {0}: duplicate prefix")]
    Duplicate(usize),
}

/// Why a request was not routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// No route for the path: 404 `not_found`.
    #[error("no route")]
    NotFound,
    /// A path with dot segments (raw or percent-encoded) or backslashes: 400 `bad_request`.
    #[error("path not accepted")]
    BadPath,
    /// The route table is deny-all because its configuration was invalid: 503.
    #[error("route table misconfigured")]
    Misconfigured,
}

/// Longest-prefix routes from path prefixes to components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTable {
    /// Sorted by prefix length, longest first.
    routes: Vec<(String, ComponentId)>,
    misconfigured: bool,
}

impl RouteTable {
    /// Parses and validates a route config string.
    pub fn parse(config: &str) -> Result<Self, RouteConfigError> {
        let mut routes: Vec<(String, ComponentId)> = Vec::new();
        for (i, entry) in config.split(',').map(str::trim).enumerate() {
            if entry.is_empty() && config.trim().is_empty() {
                return Err(RouteConfigError::Empty);
            }
            let (prefix, component) = entry.split_once('=').ok_or(RouteConfigError::Entry(i))?;
            let (prefix, component) = (prefix.trim(), component.trim());
            if !valid_prefix(prefix) {
                return Err(RouteConfigError::Prefix(i));
            }
            let component = component
                .parse()
                .map_err(|_| RouteConfigError::Component(i))?;
            if routes.iter().any(|(p, _)| p == prefix) {
                return Err(RouteConfigError::Duplicate(i));
            }
            routes.push((prefix.to_owned(), component));
        }
        routes.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        Ok(Self {
            routes,
            misconfigured: false,
        })
    }

    /// [`RouteTable::parse`], or on error a deny-all table plus the error to report.
    pub fn parse_or_deny(config: &str) -> (Self, Option<RouteConfigError>) {
        match Self::parse(config) {
            Ok(table) => (table, None),
            Err(e) => (Self::deny_all(), Some(e)),
        }
    }

    /// A table that refuses every request with [`RouteError::Misconfigured`].
    pub fn deny_all() -> Self {
        Self {
            routes: Vec::new(),
            misconfigured: true,
        }
    }

    /// The component for `path` (no query), by longest segment-aligned prefix.
    pub fn lookup(&self, path: &str) -> Result<&ComponentId, RouteError> {
        if self.misconfigured {
            return Err(RouteError::Misconfigured);
        }
        self.routes
            .iter()
            .find(|(prefix, _)| segment_prefix(prefix, path))
            .map(|(_, c)| c)
            .ok_or(RouteError::NotFound)
    }
}

fn valid_prefix(p: &str) -> bool {
    p.starts_with('/')
        && (p == "/" || !p.ends_with('/'))
        && !p.contains("//")
        && !p
            .bytes()
            .any(|b| b <= b' ' || b >= 0x7f || matches!(b, b'?' | b'#' | b'%' | b'\\'))
        && !p.split('/').any(|s| s == "." || s == "..")
}

fn segment_prefix(prefix: &str, path: &str) -> bool {
    prefix == "/"
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Whether a path segment is `.` or `..`, raw or percent-encoded (`%2e`, `%2E`).
fn is_dot_segment(segment: &str) -> bool {
    let lower = segment.to_ascii_lowercase().replace("%2e", ".");
    lower == "." || lower == ".."
}

/// Refuses backslashes and dot segments, raw or percent-encoded.
pub(crate) fn check_path(path: &str) -> Result<(), RouteError> {
    let backslash = path.contains('\\') || path.to_ascii_lowercase().contains("%5c");
    if backslash || path.split('/').any(is_dot_segment) {
        return Err(RouteError::BadPath);
    }
    Ok(())
}

/// Who a routed request runs as: a tenant's principal, or the platform surface's grant on
/// the apex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// A request on a tenant host, bound to that tenant.
    Tenant(Principal),
    /// A request on the apex's platform surface.
    Platform(PlatformGrant),
}

/// Proof that a request matched a route. Only [`authorise`] and [`authorise_platform`]
/// build one, and a forwarding plan ([`crate::decision::Forward`]) is built only from one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permit {
    grant: Grant,
    component: ComponentId,
    path_and_query: String,
}

impl Permit {
    /// Who the request runs as.
    pub fn grant(&self) -> &Grant {
        &self.grant
    }
    /// The tenant principal, when the request is on a tenant host.
    pub fn principal(&self) -> Option<&Principal> {
        match &self.grant {
            Grant::Tenant(principal) => Some(principal),
            Grant::Platform(_) => None,
        }
    }
    /// The component to forward to.
    pub fn component(&self) -> &ComponentId {
        &self.component
    }
    /// The path and query to forward, unchanged.
    pub fn path_and_query(&self) -> &str {
        &self.path_and_query
    }
    /// The claims of the context the backend gets, expiring at `exp` (Unix seconds).
    pub fn claims(&self, request_id: &RequestId, exp: u64) -> ContextClaims {
        let principal = match &self.grant {
            Grant::Tenant(principal) => principal,
            Grant::Platform(grant) => return grant.claims(request_id, exp),
        };
        let tenant = principal.tenant().record();
        ContextClaims {
            tid: tenant.id,
            slug: tenant.slug.clone(),
            placement: tenant.placement.clone(),
            uid: principal.user_id(),
            roles: principal.roles().to_vec(),
            perms: principal.permissions().to_vec(),
            rid: request_id.clone(),
            exp,
            ro: tenant.read_only || principal.is_read_only(),
        }
    }
}

/// Routes the request: refuses paths with dot segments or backslashes (400) and unrouted
/// paths (404), and grants a [`Permit`] otherwise. (Per-route permission requirements
/// would be checked here.)
pub fn authorise(
    principal: Principal,
    target: &RequestTarget,
    routes: &RouteTable,
) -> Result<Permit, RouteError> {
    permit(Grant::Tenant(principal), target, routes)
}

/// [`authorise`] for the apex's platform surface: the same path rules and table.
pub fn authorise_platform(
    grant: PlatformGrant,
    target: &RequestTarget,
    routes: &RouteTable,
) -> Result<Permit, RouteError> {
    permit(Grant::Platform(grant), target, routes)
}

fn permit(grant: Grant, target: &RequestTarget, routes: &RouteTable) -> Result<Permit, RouteError> {
    let path = target.path();
    check_path(path)?;
    let component = routes.lookup(path)?.clone();
    Ok(Permit {
        grant,
        component,
        path_and_query: target.path_and_query().to_owned(),
    })
}

#[cfg(test)]
#[path = "routes_tests.rs"]
mod tests;
