//! The life of a request through the core, as one function: [`handle`].
//!
//! ```text
//! RequestParts ─ limits ─ normalise host ─▶ Hostname ─ resolve tenant ─▶ ResolvedTenant
//!   ─ admit lifecycle ─▶ ActiveTenant ─ authenticate ─▶ Principal ─ authorise route ─▶ Permit
//!   ─ sign context ─▶ SignedContext ─ forwarding plan ─▶ Forward
//! ```
//!
//! Each stage takes the previous stage's output and returns a narrower type; [`Forward`]
//! can only be built from a [`Permit`], which only [`authorise`] builds.

use crate::auth::{apex_organisation, authenticate, bearer_token, Credentials};
use crate::cache::{TenantCache, TenantCacheConfig};
use crate::context::{ContextClaims, ContextSigner, SignedContext};
use crate::error::{BadRequest, GatewayError};
use crate::headers::{sanitise, Limits};
use crate::host::{normalise_host, HostConfig, RequestTarget};
use crate::ids::{ComponentId, Permission, RequestId};
use crate::jwt::JwtVerifier;
use crate::kv::{KvCache, UnixMillis};
use crate::lifecycle::admit;
use crate::resolve::{classify, resolve, HostClass, ResolverConfig};
use crate::routes::{authorise, Permit, RouteTable};
use crate::tenant::TenantDirectory;

/// The parts of an incoming request the core looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestParts {
    /// The method, as received.
    pub method: String,
    /// The request target: origin-form (`/x?y`) or absolute-form (`http://h/x`; Spin hands
    /// components an absolute URI built from `Host`).
    pub target: String,
    /// Every header, in order, duplicates kept.
    pub headers: Vec<(String, Vec<u8>)>,
}

/// Everything the core is configured with, validated when built.
#[derive(Debug)]
pub struct GatewayConfig {
    /// Accepted ports.
    pub host: HostConfig,
    /// Apex and reserved labels.
    pub resolver: ResolverConfig,
    /// Tenant cache bounds.
    pub tenant_cache: TenantCacheConfig,
    /// Token issuers.
    pub jwt: JwtVerifier,
    /// Routes.
    pub routes: RouteTable,
    /// Size caps.
    pub limits: Limits,
    /// The context signing key and TTL.
    pub context: ContextSigner,
    /// Permissions granted to requests without credentials (empty: none).
    pub anonymous_permissions: Vec<Permission>,
}

/// The ports: the tenant directory and the key-value cache.
#[derive(Debug)]
pub struct Ports<D, K> {
    /// Source of truth for tenants.
    pub directory: D,
    /// Cache store for tenants and verified tokens.
    pub kv: K,
}

/// What the component sends to the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// The backend component.
    pub component: ComponentId,
    /// The method, unchanged.
    pub method: String,
    /// The path and query, unchanged.
    pub path_and_query: String,
    /// The sanitised request headers plus `x-tenant-context`, `x-tenant-host` and
    /// `x-request-id`.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The signed tenant context (also in `headers`).
    pub context: SignedContext,
    /// The request id (also in `headers`).
    pub request_id: RequestId,
}

impl Forward {
    /// `http://<component>.spin.internal<path_and_query>`.
    pub fn url(&self) -> String {
        format!(
            "http://{}.spin.internal{}",
            self.component, self.path_and_query
        )
    }
}

/// Runs every stage for one request. `now` is read once by the caller; `request_id` is
/// the caller's (echoed in the context, the forwarded headers and any error body).
pub fn handle<D: TenantDirectory, K: KvCache>(
    req: &RequestParts,
    config: &GatewayConfig,
    ports: &Ports<D, K>,
    now: UnixMillis,
    request_id: &RequestId,
) -> Result<Forward, GatewayError> {
    check_method(&req.method)?;
    config.limits.check_headers(&req.headers)?;
    config.limits.check_declared_body(&req.headers)?;

    let target = RequestTarget::parse(&req.target)?;
    let host_values: Vec<&[u8]> = header_values(&req.headers, "host").collect();
    let host = normalise_host(&host_values, &target, &config.host)?;

    let tenants = TenantCache::new(&ports.directory, &ports.kv, config.tenant_cache);
    let class = classify(&host, &config.resolver);
    let mut credentials =
        bearer_token(&req.headers)?.map_or(Credentials::Anonymous, Credentials::Bearer);
    if let (HostClass::Apex, Credentials::Bearer(raw)) = (&class, &credentials) {
        credentials = Credentials::Verified(config.jwt.verify(raw, &ports.kv, now)?);
    }
    let apex_org = match &credentials {
        Credentials::Verified(token) => apex_organisation(Some(token))?.cloned(),
        _ => None,
    };
    let resolved = resolve(&host, &class, apex_org.as_ref(), &tenants, now)?;

    let active = admit(resolved)?;
    let principal = authenticate(
        active,
        credentials,
        &config.jwt,
        &config.anonymous_permissions,
        &ports.kv,
        now,
    )?;
    let permit = authorise(principal, &target, &config.routes)?;
    let context = sign_context(&permit, &config.context, request_id, now);
    Ok(plan_forward(
        permit,
        context,
        &req.method,
        &req.headers,
        request_id,
    ))
}

/// Signs the tenant context for a permitted request.
pub fn sign_context(
    permit: &Permit,
    signer: &ContextSigner,
    request_id: &RequestId,
    now: UnixMillis,
) -> SignedContext {
    let principal = permit.principal();
    let tenant = principal.tenant().record();
    signer.sign(&ContextClaims {
        tid: tenant.id,
        slug: tenant.slug.clone(),
        placement: tenant.placement.clone(),
        uid: principal.user_id(),
        roles: principal.roles().to_vec(),
        perms: principal.permissions().to_vec(),
        rid: request_id.clone(),
        exp: signer.expiry(now),
        ro: tenant.read_only,
    })
}

/// The forwarding plan: sanitised headers plus ours.
pub fn plan_forward(
    permit: Permit,
    context: SignedContext,
    method: &str,
    headers: &[(String, Vec<u8>)],
    request_id: &RequestId,
) -> Forward {
    let mut out = sanitise(headers);
    let host = permit
        .principal()
        .tenant()
        .host()
        .as_str()
        .as_bytes()
        .to_vec();
    out.push((
        "x-tenant-context".to_owned(),
        context.as_str().as_bytes().to_vec(),
    ));
    out.push(("x-tenant-host".to_owned(), host));
    out.push((
        "x-request-id".to_owned(),
        request_id.as_str().as_bytes().to_vec(),
    ));
    Forward {
        component: permit.component().clone(),
        method: method.to_owned(),
        path_and_query: permit.path_and_query().to_owned(),
        headers: out,
        context,
        request_id: request_id.clone(),
    }
}

fn header_values<'a>(
    headers: &'a [(String, Vec<u8>)],
    name: &'a str,
) -> impl Iterator<Item = &'a [u8]> + 'a {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

fn check_method(method: &str) -> Result<(), BadRequest> {
    let token = !method.is_empty()
        && method
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !token || method.eq_ignore_ascii_case("CONNECT") || method.eq_ignore_ascii_case("TRACE") {
        return Err(BadRequest::Method);
    }
    Ok(())
}

#[cfg(test)]
#[path = "pipeline_tests.rs"]
mod tests;
