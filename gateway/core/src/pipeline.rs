//! The life of a request through the core, as one function: [`handle`].
//!
//! ```text
//! RequestParts ─ check ─▶ RequestTarget ─ host ─▶ Hostname ─ credentials ─▶ Credentials
//!   ─ resolve ─▶ ResolvedTenant ─ admit ─▶ ActiveTenant ─ authenticate ─▶ Identity
//!   ─ bind ─▶ Principal ─ SSO policy (session rules, CSRF, renewal, enforced SSO,
//!   the auth routes) ─ rate limit ─ authorise ─▶ Permit ─ sign ─▶ SignedContext
//!   ─ forward ─▶ Decision::Forward(Forward)
//! a login route, after the rate limit: ─▶ Decision::Auth(AuthRequest)
//! any stage: refusal ─▶ Decision::Respond(Response)
//!
//! the apex's platform surface (/platform, /api/platform), after the credentials:
//!   ─ authenticate ─▶ PlatformAdmin? ─ (tenant named in the path) ─▶ PlatformGrant
//!   ─ authorise ─▶ Permit ─ sign ─ forward ─▶ Decision::Forward          (crate::platform)
//! a platform issuer's token on a tenant host (whatever its organisation claim), at binding:
//!   ─ platform admin? ─ break-glass grant (recorded) ─▶ Principal, or 403 break_glass_required
//!   (403 platform_admin_required without the role)
//! ```
//!
//! Each stage is one method of the per-request `Ctx` (the way pingora's `ProxyHttp`
//! phases share a `CTX`): it takes the previous stage's output and returns a narrower type,
//! and what a later answer needs even after a refusal (the login page, the meter, the
//! answer's headers so far) lives in the context rather than on the side. The SSO policy runs
//! before the rate limit, so a request the policy refuses spends nothing. [`Forward`] can
//! only be built from a [`Permit`], which only [`authorise`] and [`authorise_platform`]
//! build. A stage that answers without a backend (a refusal, a login redirect, a 429)
//! ends the request with a [`Decision::Respond`] carrying status, headers and body.

use crate::auth::{apex_organisation, authenticate, bind, credentials, AuthError, Credentials};
use crate::auth::{Identity, Principal, Via};
use crate::cache::{TenantCache, TenantCacheConfig};
use crate::context::{ContextSigner, SignedContext};
pub use crate::decision::Forward;
use crate::decision::{Decision, Response};
use crate::error::{BadRequest, GatewayError};
use crate::headers::Limits;
use crate::host::{normalise_host, HostConfig, RequestTarget};
use crate::ids::{Hostname, Permission, RequestId};
use crate::kv::{KvCache, UnixMillis};
use crate::lifecycle::{admit, ActiveTenant};
use crate::limits::{client_addr, RouteClass};
use crate::metering::Meter;
use crate::platform::{self, PlatformGrant};
use crate::ports::{Clock, JwksSource, Ports};
use crate::ratelimit::{self, RateLimitConfig, RateLimitStore};
use crate::resolve::{classify, resolve, HostClass, ResolveError, ResolvedTenant, ResolverConfig};
use crate::routes::{authorise, authorise_platform, check_path, Permit, RouteError, RouteTable};
use crate::sso::session::{self, SessionConfig, SessionIdentity};
use crate::sso::{self, AuthRequest, AuthRoute, SsoMode};
use crate::tenant::{TenantDirectory, TenantRecord};
use tenant_contract::headers::REQUEST_ID_HEADER;

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

/// One request's context, passed from stage to stage: what every stage reads (the request,
/// the configuration, the ports, the instant, the request id) and what the stages learn that
/// the answer needs even when a later stage refuses.
struct Ctx<'a, D, C, N, J> {
    req: &'a RequestParts,
    config: &'a GatewayConfig,
    ports: &'a Ports<D, C, N, J>,
    now: UnixMillis,
    request_id: &'a RequestId,
    /// Served over TLS (cookies get `Secure` and the `__Host-` name).
    tls: bool,
    /// For a browser navigation on a tenant with a login page: where to send it instead of
    /// a 401.
    login: Option<String>,
    /// Set once the request is bound to an admitted tenant.
    meter: Option<Meter>,
    /// Headers for the answer, gathered so far (`RateLimit`, a renewed session cookie).
    response_headers: Vec<(String, String)>,
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
    let mut ctx = Ctx {
        req,
        config,
        ports,
        now: clock.now(),
        request_id,
        tls: req.target.starts_with("https://"),
        login: None,
        meter: None,
        response_headers: Vec::new(),
    };
    let decision = match ctx.stages() {
        Ok(decision) => decision,
        Err(refusal) => Decision::Respond(ctx.refuse(refusal)),
    };
    (decision, ctx.meter)
}

/// What the SSO policy stage lets through: the request, or one of the login routes.
enum Policy {
    Continue,
    Auth(Box<AuthRequest>),
}

impl<D, C, N, J> Ctx<'_, D, C, N, J>
where
    D: TenantDirectory,
    C: KvCache,
    N: RateLimitStore,
    J: JwksSource,
{
    /// The stage list. Each `?` is a refusal; the end is a forwarding plan.
    fn stages(&mut self) -> Result<Decision, GatewayError> {
        let target = self.check()?;
        let host = self.host(&target)?;
        let credentials = credentials(&self.req.headers)?;
        let class = classify(&host, &self.config.resolver);
        let surface = platform::surface(target.path());
        if let (HostClass::Apex, Some(surface)) = (&class, &surface) {
            return self.platform(&target, surface, credentials);
        }
        let (resolved, apex_identity) = self.resolve(&host, &class, credentials)?;
        let active = self.admit(resolved, surface.is_some())?;
        let tenant_host = class != HostClass::Apex;
        let auth_route = AuthRoute::of(&self.req.method, target.path()).filter(|_| tenant_host);
        self.note_login(&active, &target, tenant_host && auth_route.is_none());
        let identity = self.authenticate(&active, apex_identity, credentials)?;
        let principal = self.bind(active, identity, &target)?;
        let policy = self.sso_policy(&principal, &target, &host, auth_route)?;
        self.rate_limit(&principal, &target)?;
        let permit = match policy {
            Policy::Auth(auth) => return Ok(Decision::Auth(self.with_answer_headers(auth))),
            Policy::Continue => match authorise(principal, &target, &self.config.routes) {
                Ok(permit) => permit,
                Err(refusal) => return Ok(self.route_refusal(refusal.into())),
            },
        };
        Ok(Decision::Forward(self.forward(permit)))
    }

    /// Check: an accepted method, headers and a declared body within their caps, a target
    /// that parses.
    fn check(&self) -> Result<RequestTarget, GatewayError> {
        let target = RequestTarget::parse(&self.req.target);
        check_request(self.req, target.as_ref().ok(), &self.config.limits)?;
        Ok(target?)
    }

    /// Host: the one `Host` the request names, normalised.
    fn host(&self, target: &RequestTarget) -> Result<Hostname, GatewayError> {
        let values = host_values(&self.req.headers);
        Ok(normalise_host(&values, target, &self.config.host)?)
    }

    /// Resolve: the tenant the host (or, on the apex, a verified token) names. On the apex
    /// authentication runs first (and only there); its identity is handed on.
    fn resolve(
        &self,
        host: &Hostname,
        class: &HostClass,
        credentials: Credentials<'_>,
    ) -> Result<(ResolvedTenant, Option<Identity>), GatewayError> {
        let ports = self.ports;
        let apex_identity = match class {
            HostClass::Apex => Some(authenticate(
                credentials,
                &ports.keys,
                &ports.cache,
                self.now,
            )?),
            _ => None,
        };
        let org = apex_organisation(apex_identity.as_ref())?;
        let resolved = resolve(host, class, org, &self.tenants(), self.now)?;
        Ok((resolved, apex_identity))
    }

    /// Admit: the tenant's lifecycle lets it serve; the platform surface exists on the apex
    /// only, so it is 404 here.
    fn admit(
        &self,
        resolved: ResolvedTenant,
        platform_path: bool,
    ) -> Result<ActiveTenant, GatewayError> {
        let active = admit(resolved)?;
        if platform_path {
            return Err(RouteError::NotFound.into());
        }
        Ok(active)
    }

    /// A browser navigation on a tenant host, outside the login routes, on a tenant with a
    /// login page goes there instead of a 401.
    fn note_login(&mut self, active: &ActiveTenant, target: &RequestTarget, page: bool) {
        if page
            && active.record().sso != SsoMode::None
            && sso::is_navigation(&self.req.method, &self.req.headers)
        {
            self.login = Some(sso::login_location(target.path_and_query()));
        }
    }

    /// Authenticate: the apex's identity as is; a session cookie by the session rules; any
    /// other credential verified.
    fn authenticate(
        &self,
        active: &ActiveTenant,
        apex_identity: Option<Identity>,
        credentials: Credentials<'_>,
    ) -> Result<Identity, GatewayError> {
        let (config, ports) = (self.config, self.ports);
        Ok(match (apex_identity, credentials) {
            (Some(identity), _) => identity,
            // Without a session key, sessions are off and a cookie is nobody's.
            (None, Credentials::Session(_)) if config.sessions.key.is_none() => Identity::Anonymous,
            // Over TLS only the `__Host-` cookie counts: a plain-named one may have been set
            // for the whole apex by a sibling subdomain (cookie tossing), and is nobody's
            // session here.
            (None, Credentials::Session(_))
                if self.tls && sso::cookie(&self.req.headers, session::SECURE_COOKIE).is_none() =>
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
                    self.now,
                )
                .map_err(AuthError::from)?,
            ),
            (None, other) => authenticate(other, &ports.keys, &ports.cache, self.now)?,
        })
    }

    /// Bind: the identity as a member of the tenant. A token from the platform's issuer is
    /// never a tenant credential, whatever it claims: a platform admin's works here only
    /// under a recorded break-glass grant, anyone else's not at all. From here the request
    /// is metered.
    fn bind(
        &mut self,
        active: ActiveTenant,
        identity: Identity,
        target: &RequestTarget,
    ) -> Result<Principal, GatewayError> {
        let principal = match &identity {
            Identity::Token(token) if token.platform_issuer => {
                match platform::PlatformAdmin::of(token) {
                    Some(admin) => self.break_glass(active, &admin, target)?,
                    None => return Err(AuthError::PlatformTokenOnTenant.into()),
                }
            }
            _ => bind(active, identity, &self.config.anonymous_permissions)?,
        };
        self.meter = Some(Meter {
            tenant: principal.tenant().record().id,
            class: RouteClass::of(&self.req.method, target.path()),
            signed_in: principal.is_authenticated(),
        });
        Ok(principal)
    }

    /// A platform admin's token on a tenant host: the admin's active break-glass grant there
    /// (the directory records this access in the tenant's audit log), or 403
    /// `break_glass_required`; 503 when the directory cannot say.
    fn break_glass(
        &self,
        active: ActiveTenant,
        admin: &platform::PlatformAdmin,
        target: &RequestTarget,
    ) -> Result<Principal, GatewayError> {
        let access = platform::BreakGlassAccess {
            tenant: active.record().id,
            admin,
            method: &self.req.method,
            path: target.path(),
            request_id: self.request_id,
            client_addr: client_addr(&self.req.headers),
        };
        match self.ports.directory.break_glass(&access) {
            Ok(Some(grant)) => Ok(Principal::break_glass(active, admin, grant)),
            Ok(None) => Err(AuthError::BreakGlassRequired.into()),
            Err(e) => Err(ResolveError::Unavailable(e).into()),
        }
    }

    /// SSO policy: a session's writes must come from this origin (CSRF) and its cookie is
    /// renewed when due; the login routes go to the component; on a tenant with enforced
    /// SSO a bearer token is refused (403 `sso_required`) before it spends anything.
    fn sso_policy(
        &mut self,
        principal: &Principal,
        target: &RequestTarget,
        host: &Hostname,
        auth_route: Option<AuthRoute>,
    ) -> Result<Policy, GatewayError> {
        let origin = origin(host, &self.req.headers, &self.req.target, self.tls);
        let session = match principal.via() {
            Via::Session(sid, renewed) => {
                self.session_rules(&origin, *sid, renewed.as_ref())?;
                Some(*sid)
            }
            _ => None,
        };
        if let Some(route) = auth_route {
            return Ok(Policy::Auth(Box::new(
                self.auth_request(route, principal, target, origin, session),
            )));
        }
        // Enforced SSO: the tenant's IdP is the only way in.
        if *principal.via() == Via::Token && principal.tenant().record().sso == SsoMode::Enforced {
            return Err(AuthError::SsoRequired.into());
        }
        Ok(Policy::Continue)
    }

    /// CSRF: a state-changing request riding on a session cookie must come from `origin`;
    /// a renewed session's cookie goes back with the answer.
    fn session_rules(
        &mut self,
        origin: &str,
        sid: uuid::Uuid,
        renewed: Option<&(String, u64)>,
    ) -> Result<(), GatewayError> {
        let key = self.config.sessions.key.as_ref().ok_or(AuthError::Csrf)?;
        if !sso::csrf_ok(
            &self.req.method,
            &self.req.headers,
            origin,
            &key.csrf_token(sid),
        ) {
            return Err(AuthError::Csrf.into());
        }
        if let Some((value, exp)) = renewed {
            let max_age = exp.saturating_sub(self.now.as_secs());
            let cookie = session::set_cookie(value, max_age, self.tls);
            self.response_headers
                .push(("set-cookie".to_owned(), cookie));
        }
        Ok(())
    }

    /// A login route, for the component to run with its I/O.
    fn auth_request(
        &self,
        route: AuthRoute,
        principal: &Principal,
        target: &RequestTarget,
        origin: String,
        session: Option<uuid::Uuid>,
    ) -> AuthRequest {
        let tenant = principal.tenant().record();
        AuthRequest {
            route,
            tenant: tenant.clone(),
            origin,
            apex: self.config.resolver.apex().as_str().to_owned(),
            tls: self.tls,
            query: target
                .path_and_query()
                .split_once('?')
                .map(|(_, q)| q.to_owned())
                .unwrap_or_default(),
            session: session.map(|sid| SessionIdentity {
                sid,
                tenant: tenant.id,
                user_id: principal.user_id().unwrap_or_default(),
                roles: principal.roles().to_vec(),
                permissions: principal.permissions().to_vec(),
                renewed: None,
            }),
            binding: sso::cookie(&self.req.headers, sso::FLOW_COOKIE).map(str::to_owned),
            html: sso::wants_html(&self.req.headers),
            request_id: self.request_id.clone(),
            response_headers: Vec::new(),
        }
    }

    /// Rate limit: the principal's (or the client's) buckets and the tenant's quota for this
    /// route class spend one, or 429. The `RateLimit` headers lead the ones gathered so far.
    fn rate_limit(
        &mut self,
        principal: &Principal,
        target: &RequestTarget,
    ) -> Result<(), GatewayError> {
        let class = RouteClass::of(&self.req.method, target.path());
        let spend = ratelimit::plan(principal, class, client_addr(&self.req.headers), self.now);
        let limits = &self.config.rate_limits;
        let headers = ratelimit::check(&spend, class, limits, &self.ports.counters, self.now)?;
        self.response_headers.splice(0..0, headers);
        Ok(())
    }

    /// A login route's request, with the answer's headers gathered so far.
    fn with_answer_headers(&mut self, mut auth: Box<AuthRequest>) -> Box<AuthRequest> {
        auth.response_headers = std::mem::take(&mut self.response_headers);
        auth
    }

    /// Admitted by the limits, refused by the route: the answer still says what is left.
    fn route_refusal(&mut self, refusal: GatewayError) -> Decision {
        let mut answer = refusal.response();
        answer.headers.append(&mut self.response_headers);
        Decision::Respond(answer.into_response(self.request_id, Some(refusal)))
    }

    /// Sign and forward: the permit's context, signed, in a plan with the answer's headers;
    /// an anonymous request keeps its login page for a backend's 401 or 403.
    fn forward(&mut self, permit: Permit) -> Forward {
        let anonymous = !permit.principal().is_some_and(Principal::is_authenticated);
        let context = sign_context(&permit, &self.config.context, self.request_id, self.now);
        let login = self.login.take().filter(|_| anonymous);
        Forward::new(
            permit,
            context,
            &self.req.method,
            &self.req.headers,
            self.request_id,
        )
        .with_response_headers(std::mem::take(&mut self.response_headers))
        .with_login_redirect(login)
    }

    /// The platform surface on the apex ([`platform`]): the console to anyone, the API to
    /// platform admins only, with a context naming no tenant or the tenant the path names.
    fn platform(
        &mut self,
        target: &RequestTarget,
        surface: &platform::Surface,
        credentials: Credentials<'_>,
    ) -> Result<Decision, GatewayError> {
        check_path(target.path())?;
        let ports = self.ports;
        let identity = authenticate(credentials, &ports.keys, &ports.cache, self.now)?;
        let admin = match &identity {
            Identity::Token(token) => platform::PlatformAdmin::of(token),
            _ => None,
        };
        let tenant = match (surface, &admin, &identity) {
            (platform::Surface::Console, _, _) => None,
            (_, None, Identity::Token(_)) => return Err(AuthError::PlatformAdminRequired.into()),
            (_, None, _) => return Err(AuthError::PlatformTokenMissing.into()),
            (platform::Surface::Api, Some(_), _) => None,
            (platform::Surface::Tenant(segment), Some(_), _) => Some(self.named_tenant(segment)?),
        };
        let grant = PlatformGrant::new(admin, tenant, self.config.resolver.apex().as_str());
        let permit = authorise_platform(grant, target, &self.config.routes)?;
        Ok(Decision::Forward(self.forward(permit)))
    }

    /// The tenant a platform API path names, whatever its status.
    fn named_tenant(&self, segment: &str) -> Result<TenantRecord, GatewayError> {
        let slug = platform::slug(segment).ok_or(ResolveError::UnknownTenant)?;
        let tenant = self.tenants().by_slug(&slug, self.now);
        Ok(tenant
            .map_err(ResolveError::Unavailable)?
            .ok_or(ResolveError::UnknownTenant)?)
    }

    /// The tenants, through the cache.
    fn tenants(&self) -> TenantCache<&D, &C> {
        let ports = self.ports;
        TenantCache::new(&ports.directory, &ports.cache, self.config.tenant_cache)
    }

    /// The refusal's response; a browser navigation that lacks a valid session goes to the
    /// login page instead of a 401, and a refused session cookie is removed.
    fn refuse(&self, refusal: GatewayError) -> Response {
        let session_refused = matches!(
            refusal,
            GatewayError::Auth(AuthError::Session(ref e)) if *e != session::SessionError::Unavailable
        );
        let mut answer = refusal.response();
        if session_refused {
            answer
                .headers
                .push(("set-cookie".to_owned(), session::clear_cookie(self.tls)));
        }
        match &self.login {
            Some(location) if answer.status == 401 => {
                let mut r = Response::redirect(location)
                    .with_header(REQUEST_ID_HEADER, self.request_id.as_str());
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
            _ => answer.into_response(self.request_id, Some(refusal)),
        }
    }
}

/// `scheme://host[:port]` as the browser addressed it: the normalised host, and the port
/// of the `Host` header (or of an absolute-form target's authority, as Spin hands the
/// component) when it is not the scheme's default.
fn origin(host: &Hostname, headers: &[(String, Vec<u8>)], target: &str, tls: bool) -> String {
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

/// Signs the context of a permitted request (a tenant's principal, or the platform
/// surface's grant).
pub fn sign_context(
    permit: &Permit,
    signer: &ContextSigner,
    request_id: &RequestId,
    now: UnixMillis,
) -> SignedContext {
    signer.sign(&permit.claims(request_id, signer.expiry(now)))
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
