//! The life of a request through the core, as one function: [`handle`].
//!
//! ```text
//! RequestParts ─ check request ─ normalise host ─▶ Hostname ─ read credentials ─▶ Credentials
//!   ─ resolve tenant ─▶ ResolvedTenant ─ admit lifecycle ─▶ ActiveTenant
//!   ─ authenticate ─▶ Identity ─ bind ─▶ Principal
//!   ─ (SSO policy) ─ rate limit ─ authorise route ─▶ Permit
//!   ─ sign context ─▶ SignedContext ─ plan ─▶ Decision::Forward(Forward)
//! any stage: refusal ─▶ Decision::Respond(Response)
//!
//! the apex's platform surface (/platform, /api/platform), after the host:
//!   ─ authenticate ─▶ PlatformAdmin? ─ (tenant named in the path) ─ sign a platform context
//!   ─▶ Decision::Forward          (crate::platform)
//! a platform issuer's token on a tenant host (whatever its organisation claim), at binding:
//!   ─ platform admin? ─ break-glass grant (recorded) ─▶ Principal, or 403 break_glass_required
//!   (403 platform_admin_required without the role)
//! ```
//!
//! Each stage takes the previous stage's output and returns a narrower type; [`Forward`]
//! can only be built from a [`Permit`], which only [`authorise`] builds. A stage that
//! answers without a backend (a refusal today; an SSO redirect or a 429 tomorrow) ends the
//! request with a [`Decision::Respond`] carrying status, headers and body.

use crate::auth::{apex_organisation, authenticate, bind, credentials, AuthError, Credentials};
use crate::auth::{Identity, Principal, Via};
use crate::cache::{TenantCache, TenantCacheConfig};
use crate::context::{ContextClaims, ContextSigner, SignedContext};
pub use crate::decision::Forward;
use crate::decision::{Decision, Response};
use crate::error::{BadRequest, GatewayError};
use crate::headers::{sanitise, Limits};
use crate::host::{normalise_host, HostConfig, RequestTarget};
use crate::ids::{Permission, RequestId};
use crate::kv::{KvCache, UnixMillis};
use crate::lifecycle::admit;
use crate::limits::{client_addr, RouteClass};
use crate::metering::Meter;
use crate::platform;
use crate::ports::{Clock, JwksSource, Ports};
use crate::ratelimit::{RateLimitConfig, RateLimitStore};
use crate::resolve::{classify, resolve, HostClass, ResolverConfig};
use crate::routes::{authorise, Permit, RouteTable};
use crate::sso::session::{self, SessionConfig};
use crate::sso::{AuthRequest, AuthRoute, SsoMode};
use crate::tenant::TenantDirectory;
use tenant_contract::headers::{
    CLIENT_ADDR_HEADER, CONTEXT_HEADER, REQUEST_ID_HEADER, TENANT_HOST_HEADER,
};

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
    /// Sessions and logins.
    pub sessions: SessionConfig,
}

/// What the stages learnt that the answer needs even when a later stage refuses.
#[derive(Debug, Default)]
struct Progress {
    meter: Option<Meter>,
    /// For a browser navigation on a tenant with a login page: where to send it instead of
    /// a 401.
    login: Option<String>,
    tls: bool,
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
    let mut progress = Progress::default();
    let decision = match stages(req, config, ports, clock.now(), request_id, &mut progress) {
        Ok(decision) => decision,
        Err(refusal) => Decision::Respond(refuse(refusal, &progress, request_id)),
    };
    (decision, progress.meter)
}

/// The refusal's response; a browser navigation that lacks a valid session goes to the
/// login page instead of a 401, and a refused session cookie is removed.
fn refuse(refusal: GatewayError, progress: &Progress, request_id: &RequestId) -> Response {
    let session_refused = matches!(
        refusal,
        GatewayError::Auth(AuthError::Session(ref e)) if *e != session::SessionError::Unavailable
    );
    let mut answer = refusal.response();
    if session_refused {
        answer
            .headers
            .push(("set-cookie".to_owned(), session::clear_cookie(progress.tls)));
    }
    match &progress.login {
        Some(location) if answer.status == 401 => {
            let mut r =
                Response::redirect(location).with_header(REQUEST_ID_HEADER, request_id.as_str());
            r.cause = Some(refusal);
            r.headers.extend(
                answer
                    .headers
                    .into_iter()
                    .filter(|(n, _)| n == "set-cookie")
                    .map(|(n, v)| (n, v.into_bytes())),
            );
            r
        }
        _ => answer.into_response(request_id, Some(refusal)),
    }
}

/// The stage list. Each `?` is a refusal; the end is a forwarding plan.
fn stages<D, C, N, J>(
    req: &RequestParts,
    config: &GatewayConfig,
    ports: &Ports<D, C, N, J>,
    now: UnixMillis,
    request_id: &RequestId,
    progress: &mut Progress,
) -> Result<Decision, GatewayError>
where
    D: TenantDirectory,
    C: KvCache,
    N: RateLimitStore,
    J: JwksSource,
{
    let target = RequestTarget::parse(&req.target);
    check_request(req, target.as_ref().ok(), &config.limits)?;
    let target = target?;
    let host = normalise_host(&host_values(&req.headers), &target, &config.host)?;
    let credentials = credentials(&req.headers)?;

    // Resolve tenant. On the apex the tenant is named by a verified token, so
    // authentication runs first there (and only there).
    let tenants = TenantCache::new(&ports.directory, &ports.cache, config.tenant_cache);
    let class = classify(&host, &config.resolver);
    let platform_surface = platform::surface(target.path());
    if let (HostClass::Apex, Some(surface)) = (&class, &platform_surface) {
        return platform_stage(
            req,
            &target,
            surface,
            credentials,
            config,
            ports,
            &tenants,
            now,
            request_id,
        );
    }
    let apex_identity = match class {
        HostClass::Apex => Some(authenticate(credentials, &ports.keys, &ports.cache, now)?),
        _ => None,
    };
    let org = apex_organisation(apex_identity.as_ref())?;
    let resolved = resolve(&host, &class, org, &tenants, now)?;

    let active = admit(resolved)?;
    // The platform surface exists on the apex only.
    if platform_surface.is_some() {
        return Err(crate::routes::RouteError::NotFound.into());
    }
    progress.tls = req.target.starts_with("https://");
    let tenant_host = !matches!(class, HostClass::Apex);
    let origin = origin(&host, &req.headers, &req.target, progress.tls);
    let auth_route = AuthRoute::of(&req.method, target.path()).filter(|_| tenant_host);
    if tenant_host
        && active.record().sso != SsoMode::None
        && auth_route.is_none()
        && crate::sso::is_navigation(&req.method, &req.headers)
    {
        progress.login = Some(crate::sso::login_location(target.path_and_query()));
    }
    let identity = match (apex_identity, credentials) {
        (Some(identity), _) => identity,
        // Without a session key, sessions are off and a cookie is nobody's.
        (None, Credentials::Session(_)) if config.sessions.key.is_none() => Identity::Anonymous,
        // Over TLS only the `__Host-` cookie counts: a plain-named one may have been set for
        // the whole apex by a sibling subdomain (cookie tossing), and is nobody's session here.
        (None, Credentials::Session(_))
            if progress.tls
                && crate::sso::cookie(&req.headers, session::SECURE_COOKIE).is_none() =>
        {
            Identity::Anonymous
        }
        (None, Credentials::Session(raw)) => Identity::Session(
            session::authenticate(
                raw,
                &active.record().id,
                &config.sessions,
                &ports.directory,
                &ports.cache,
                now,
            )
            .map_err(AuthError::from)?,
        ),
        (None, other) => authenticate(other, &ports.keys, &ports.cache, now)?,
    };
    // A token from the platform's issuer is never a tenant credential, whatever it claims:
    // a platform admin's works here only under a recorded break-glass grant, anyone else's
    // not at all.
    let principal = match &identity {
        Identity::Token(token) if token.platform_issuer => {
            match platform::PlatformAdmin::of(token) {
                Some(admin) => break_glass(active, &admin, req, &target, ports, request_id)?,
                None => return Err(AuthError::PlatformTokenOnTenant.into()),
            }
        }
        _ => bind(active, identity, &config.anonymous_permissions)?,
    };
    let class = RouteClass::of(&req.method, target.path());
    progress.meter = Some(Meter {
        tenant: principal.tenant().record().id,
        class,
        signed_in: principal.is_authenticated(),
    });
    let spend = crate::ratelimit::plan(&principal, class, client_addr(&req.headers), now);
    let mut limit_headers =
        crate::ratelimit::check(&spend, class, &config.rate_limits, &ports.counters, now)?;
    // CSRF: a state-changing request riding on a session cookie must come from this origin.
    let mut session = None;
    if let Via::Session(sid, renewed) = principal.via() {
        let key = config.sessions.key.as_ref().ok_or(AuthError::Csrf)?;
        if !crate::sso::csrf_ok(&req.method, &req.headers, &origin, &key.csrf_token(*sid)) {
            return Err(AuthError::Csrf.into());
        }
        if let Some((value, exp)) = renewed {
            let max_age = exp.saturating_sub(now.as_secs());
            limit_headers.push((
                "set-cookie".to_owned(),
                session::set_cookie(value, max_age, progress.tls),
            ));
        }
        session = Some(*sid);
    }
    if let Some(route) = auth_route {
        return Ok(Decision::Auth(Box::new(AuthRequest {
            route,
            tenant: principal.tenant().record().clone(),
            origin,
            apex: config.resolver.apex().as_str().to_owned(),
            tls: progress.tls,
            query: target
                .path_and_query()
                .split_once('?')
                .map(|(_, q)| q.to_owned())
                .unwrap_or_default(),
            session: session.map(|sid| crate::sso::session::SessionIdentity {
                sid,
                tenant: principal.tenant().record().id,
                user_id: principal.user_id().unwrap_or_default(),
                roles: principal.roles().to_vec(),
                permissions: principal.permissions().to_vec(),
                renewed: None,
            }),
            binding: crate::sso::cookie(&req.headers, crate::sso::FLOW_COOKIE).map(str::to_owned),
            html: crate::sso::wants_html(&req.headers),
            request_id: request_id.clone(),
            response_headers: limit_headers,
        })));
    }
    // Enforced SSO: the tenant's IdP is the only way in.
    if *principal.via() == Via::Token && principal.tenant().record().sso == SsoMode::Enforced {
        return Err(AuthError::SsoRequired.into());
    }
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
    let forward_principal_authenticated = permit.principal().is_authenticated();
    let context = sign_context(&permit, &config.context, request_id, now);
    let mut forward = plan_forward(permit, context, &req.method, &req.headers, request_id);
    forward.response_headers = limit_headers;
    if !forward_principal_authenticated {
        forward.login_redirect = progress.login.clone();
    }
    Ok(Decision::Forward(forward))
}

/// A platform admin's token on a tenant host: the admin's active break-glass grant there
/// (the directory records this access in the tenant's audit log), or 403
/// `break_glass_required`; 503 when the directory cannot say.
fn break_glass<D, C, N, J>(
    active: crate::lifecycle::ActiveTenant,
    admin: &platform::PlatformAdmin,
    req: &RequestParts,
    target: &RequestTarget,
    ports: &Ports<D, C, N, J>,
    request_id: &RequestId,
) -> Result<Principal, GatewayError>
where
    D: TenantDirectory,
{
    let access = platform::BreakGlassAccess {
        tenant: active.record().id,
        admin,
        method: &req.method,
        path: target.path(),
        request_id,
        client_addr: client_addr(&req.headers),
    };
    match ports.directory.break_glass(&access) {
        Ok(Some(grant)) => Ok(Principal::break_glass(active, admin, grant)),
        Ok(None) => Err(AuthError::BreakGlassRequired.into()),
        Err(e) => Err(crate::resolve::ResolveError::Unavailable(e).into()),
    }
}

/// The platform surface on the apex ([`platform`]): the console to anyone, the API to
/// platform admins only, with a context naming no tenant or the tenant the path names.
#[allow(clippy::too_many_arguments)]
fn platform_stage<D, C, N, J>(
    req: &RequestParts,
    target: &RequestTarget,
    surface: &platform::Surface,
    credentials: Credentials<'_>,
    config: &GatewayConfig,
    ports: &Ports<D, C, N, J>,
    tenants: &TenantCache<&D, &C>,
    now: UnixMillis,
    request_id: &RequestId,
) -> Result<Decision, GatewayError>
where
    D: TenantDirectory,
    C: KvCache,
    J: JwksSource,
{
    crate::routes::check_path(target.path())?;
    let identity = authenticate(credentials, &ports.keys, &ports.cache, now)?;
    let admin = match &identity {
        Identity::Token(token) => platform::PlatformAdmin::of(token),
        _ => None,
    };
    let tenant = match (surface, &admin, &identity) {
        (platform::Surface::Console, _, _) => None,
        (_, None, Identity::Token(_)) => return Err(AuthError::PlatformAdminRequired.into()),
        (_, None, _) => return Err(AuthError::PlatformTokenMissing.into()),
        (platform::Surface::Api, Some(_), _) => None,
        (platform::Surface::Tenant(segment), Some(_), _) => {
            let slug =
                platform::slug(segment).ok_or(crate::resolve::ResolveError::UnknownTenant)?;
            Some(
                tenants
                    .by_slug(&slug, now)
                    .map_err(crate::resolve::ResolveError::Unavailable)?
                    .ok_or(crate::resolve::ResolveError::UnknownTenant)?,
            )
        }
    };
    let component = config.routes.lookup(target.path())?.clone();
    Ok(Decision::Forward(platform::plan(
        component,
        admin.as_ref(),
        tenant.as_ref(),
        config.resolver.apex().as_str(),
        &req.method,
        target.path_and_query(),
        &req.headers,
        &config.context,
        request_id,
        now,
    )))
}

/// `scheme://host[:port]` as the browser addressed it: the normalised host, and the port
/// of the `Host` header (or of an absolute-form target's authority, as Spin hands the
/// component) when it is not the scheme's default.
fn origin(
    host: &crate::ids::Hostname,
    headers: &[(String, Vec<u8>)],
    target: &str,
    tls: bool,
) -> String {
    let scheme = if tls { "https" } else { "http" };
    let authority = host_values(headers)
        .first()
        .and_then(|v| std::str::from_utf8(v).ok())
        .map(str::to_owned)
        .or_else(|| {
            let rest = target.split_once("://")?.1;
            Some(rest[..rest.find('/').unwrap_or(rest.len())].to_owned())
        })
        .unwrap_or_default();
    let port = authority
        .rsplit_once(':')
        .filter(|(h, _)| !h.is_empty() && !h.ends_with('['))
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .filter(|p| *p != if tls { 443 } else { 80 });
    match port {
        Some(p) => format!("{scheme}://{}:{p}", host.as_str()),
        None => format!("{scheme}://{}", host.as_str()),
    }
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
        ro: tenant.read_only || principal.is_read_only(),
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
    let host = permit.principal().tenant().host().as_str().to_owned();
    let out = forwarded_headers(headers, &context, &host, None, request_id);
    Forward {
        component: permit.component().clone(),
        method: method.to_owned(),
        path_and_query: permit.path_and_query().to_owned(),
        headers: out,
        context,
        request_id: request_id.clone(),
        response_headers: Vec::new(),
        login_redirect: None,
    }
}

/// The headers a backend gets: the client's, sanitised, then the gateway's own: the signed
/// context, the host, the client's address (when the host gave one), `extra`, the request id.
pub(crate) fn forwarded_headers(
    headers: &[(String, Vec<u8>)],
    context: &SignedContext,
    host: &str,
    extra: Option<(&str, &str)>,
    request_id: &RequestId,
) -> Vec<(String, Vec<u8>)> {
    let mut out = sanitise(headers);
    out.push((
        CONTEXT_HEADER.to_owned(),
        context.as_str().as_bytes().to_vec(),
    ));
    out.push((TENANT_HOST_HEADER.to_owned(), host.as_bytes().to_vec()));
    if let Some(addr) = client_addr(headers) {
        out.push((CLIENT_ADDR_HEADER.to_owned(), addr.to_string().into_bytes()));
    }
    if let Some((name, value)) = extra {
        out.push((name.to_owned(), value.as_bytes().to_vec()));
    }
    out.push((
        REQUEST_ID_HEADER.to_owned(),
        request_id.as_str().as_bytes().to_vec(),
    ));
    out
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
/// body within its cap. A SAML response posted to the ACS has a cap of its own
/// ([`crate::sso::MAX_ACS_BODY`], enforced by the component that reads it), so a deployment
/// with a small API body cap can still sign people in.
fn check_request(
    req: &RequestParts,
    target: Option<&RequestTarget>,
    limits: &Limits,
) -> Result<(), GatewayError> {
    check_method(&req.method)?;
    limits.check_headers(&req.headers)?;
    let acs = req.method == "POST" && target.is_some_and(|t| t.path() == "/auth/saml/acs");
    if acs {
        let cap = Limits {
            max_body_bytes: crate::sso::MAX_ACS_BODY as u64,
            ..*limits
        };
        cap.check_declared_body(&req.headers)?;
    } else {
        limits.check_declared_body(&req.headers)?;
    }
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

#[cfg(test)]
#[path = "pipeline_sso_tests.rs"]
mod sso_tests;

#[cfg(test)]
#[path = "pipeline_platform_tests.rs"]
mod platform_tests;
