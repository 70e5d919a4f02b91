//! The life of a request through the core, as one function: [`handle`].
//!
//! ```text
//! RequestParts ─ check request ─ normalise host ─▶ Hostname ─ read credentials ─▶ Credentials
//!   ─ resolve tenant ─▶ ResolvedTenant ─ admit lifecycle ─▶ ActiveTenant
//!   ─ authenticate ─▶ Identity ─ bind ─▶ Principal
//!   ─ (SSO policy) ─ rate limit ─ authorise route ─▶ Permit
//!   ─ sign context ─▶ SignedContext ─ plan ─▶ Decision::Forward(Forward)
//! any stage: refusal ─▶ Decision::Respond(Response)
//! ```
//!
//! Each stage takes the previous stage's output and returns a narrower type; [`Forward`]
//! can only be built from a [`Permit`], which only [`authorise`] builds. A stage that
//! answers without a backend (a refusal today; an SSO redirect or a 429 tomorrow) ends the
//! request with a [`Decision::Respond`] carrying status, headers and body.

use crate::auth::{apex_organisation, authenticate, bind, credentials};
use crate::cache::{TenantCache, TenantCacheConfig};
use crate::context::{ContextClaims, ContextSigner, SignedContext};
use crate::decision::Decision;
pub use crate::decision::Forward;
use crate::error::{BadRequest, GatewayError};
use crate::headers::{sanitise, Limits};
use crate::host::{normalise_host, HostConfig, RequestTarget};
use crate::ids::{Permission, RequestId};
use crate::kv::{KvCache, UnixMillis};
use crate::lifecycle::admit;
use crate::limits::{client_addr, RouteClass};
use crate::metering::Meter;
use crate::ports::{Clock, JwksSource, Ports};
use crate::ratelimit::{RateLimitConfig, RateLimitStore};
use crate::resolve::{classify, resolve, HostClass, ResolverConfig};
use crate::routes::{authorise, Permit, RouteTable};
use crate::tenant::TenantDirectory;
use tenant_contract::headers::{CONTEXT_HEADER, REQUEST_ID_HEADER, TENANT_HOST_HEADER};

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
    /// Routes.
    pub routes: RouteTable,
    /// Size caps.
    pub limits: Limits,
    /// The context signing key and TTL.
    pub context: ContextSigner,
    /// Permissions granted to requests without credentials (empty: none).
    pub anonymous_permissions: Vec<Permission>,
    /// The rate-limit stage.
    pub rate_limits: RateLimitConfig,
}

/// Decides one request: every stage in order, ending in a [`Decision`]. The clock is read
/// once; `request_id` is the caller's (echoed in the context, the forwarded headers and
/// any error body). Never panics on input.
pub fn handle<D, C, N, J>(
    req: &RequestParts,
    config: &GatewayConfig,
    ports: &Ports<D, C, N, J>,
    clock: impl Clock,
    request_id: &RequestId,
) -> Decision
where
    D: TenantDirectory,
    C: KvCache,
    N: RateLimitStore,
    J: JwksSource,
{
    handle_metered(req, config, ports, clock, request_id).0
}

/// [`handle`], plus what metering needs once the answer's status is known: `Some` for every
/// request that reached an admitted tenant (forwarded or refused after that).
pub fn handle_metered<D, C, N, J>(
    req: &RequestParts,
    config: &GatewayConfig,
    ports: &Ports<D, C, N, J>,
    clock: impl Clock,
    request_id: &RequestId,
) -> (Decision, Option<Meter>)
where
    D: TenantDirectory,
    C: KvCache,
    N: RateLimitStore,
    J: JwksSource,
{
    let mut meter = None;
    let decision = match stages(req, config, ports, clock.now(), request_id, &mut meter) {
        Ok(decision) => decision,
        Err(refusal) => {
            Decision::Respond(refusal.response().into_response(request_id, Some(refusal)))
        }
    };
    (decision, meter)
}

/// The stage list. Each `?` is a refusal; the end is a forwarding plan.
fn stages<D, C, N, J>(
    req: &RequestParts,
    config: &GatewayConfig,
    ports: &Ports<D, C, N, J>,
    now: UnixMillis,
    request_id: &RequestId,
    meter: &mut Option<Meter>,
) -> Result<Decision, GatewayError>
where
    D: TenantDirectory,
    C: KvCache,
    N: RateLimitStore,
    J: JwksSource,
{
    check_request(req, &config.limits)?;
    let target = RequestTarget::parse(&req.target)?;
    let host = normalise_host(&host_values(&req.headers), &target, &config.host)?;
    let credentials = credentials(&req.headers)?;

    // Resolve tenant. On the apex the tenant is named by a verified token, so
    // authentication runs first there (and only there).
    let tenants = TenantCache::new(&ports.directory, &ports.cache, config.tenant_cache);
    let class = classify(&host, &config.resolver);
    let apex_identity = match class {
        HostClass::Apex => Some(authenticate(credentials, &ports.keys, &ports.cache, now)?),
        _ => None,
    };
    let org = apex_organisation(apex_identity.as_ref())?;
    let resolved = resolve(&host, &class, org, &tenants, now)?;

    let active = admit(resolved)?;
    let identity = match apex_identity {
        Some(identity) => identity,
        None => authenticate(credentials, &ports.keys, &ports.cache, now)?,
    };
    let principal = bind(active, identity, &config.anonymous_permissions)?;
    let class = RouteClass::of(&req.method, target.path());
    *meter = Some(Meter {
        tenant: principal.tenant().record().id,
        class,
        signed_in: principal.is_authenticated(),
    });
    // SSO policy goes here: a tenant that enforces SSO answers a principal without a
    // session with `return Ok(Decision::Respond(..))` (302 to its login, Set-Cookie).
    let spend = crate::ratelimit::plan(&principal, class, client_addr(&req.headers), now);
    let limit_headers =
        crate::ratelimit::check(&spend, class, &config.rate_limits, &ports.counters, now)?;
    let permit = match authorise(principal, &target, &config.routes) {
        Ok(permit) => permit,
        // Admitted by the limits, refused by the route: the answer still says what is left.
        Err(refusal) => {
            let refusal = GatewayError::from(refusal);
            let mut answer = refusal.response();
            answer.headers.extend(limit_headers);
            return Ok(Decision::Respond(
                answer.into_response(request_id, Some(refusal)),
            ));
        }
    };
    let context = sign_context(&permit, &config.context, request_id, now);
    let mut forward = plan_forward(permit, context, &req.method, &req.headers, request_id);
    forward.response_headers = limit_headers;
    Ok(Decision::Forward(forward))
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
        CONTEXT_HEADER.to_owned(),
        context.as_str().as_bytes().to_vec(),
    ));
    out.push((TENANT_HOST_HEADER.to_owned(), host));
    out.push((
        REQUEST_ID_HEADER.to_owned(),
        request_id.as_str().as_bytes().to_vec(),
    ));
    Forward {
        component: permit.component().clone(),
        method: method.to_owned(),
        path_and_query: permit.path_and_query().to_owned(),
        headers: out,
        context,
        request_id: request_id.clone(),
        response_headers: Vec::new(),
    }
}

/// Every `Host` value, in order.
fn host_values(headers: &[(String, Vec<u8>)]) -> Vec<&[u8]> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("host"))
        .map(|(_, v)| v.as_slice())
        .collect()
}

/// The request as a whole: an accepted method, headers within their budget, a declared
/// body within its cap.
fn check_request(req: &RequestParts, limits: &Limits) -> Result<(), GatewayError> {
    check_method(&req.method)?;
    limits.check_headers(&req.headers)?;
    limits.check_declared_body(&req.headers)?;
    Ok(())
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
