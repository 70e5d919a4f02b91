//! The login routes under `/auth/` on a tenant host, run with the component's I/O: the
//! directory's `tenantgate.sso_*` functions (as the directory role) and the IdP's token
//! endpoint (the only outbound call, at login, never on the hot path). Every protocol
//! check is the core's (`gateway_core::sso`); this file sequences them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use gateway_core::decision::Response;
use gateway_core::prelude::*;
use gateway_core::sso::oidc::{self, Callback, OidcProvider};
use gateway_core::sso::session::{self, SessionConfig};
use gateway_core::sso::{pages, AuthRequest, AuthRoute, SsoError, FLOW_COOKIE};
use spin_sdk::pg4::ParameterValue;

use crate::ports::PgDirectory;

/// How long a login may take between the redirect to the IdP and its answer.
const FLOW_TTL_SECS: u64 = 600;

pub use gateway_core::sso::MAX_ACS_BODY;

/// Answers one `/auth/` request; `body` is the request body for the SAML ACS (`None`: too
/// large or broken off).
pub async fn serve(
    auth: &AuthRequest,
    body: Option<Vec<u8>>,
    sessions: &SessionConfig,
    directory: &PgDirectory,
    kv: &impl KvCache,
    now: UnixMillis,
) -> Response {
    let result = match auth.route {
        AuthRoute::Login => login_page(auth, directory),
        AuthRoute::Start => start(auth, directory, sessions, now),
        AuthRoute::OidcCallback => callback(auth, directory, sessions, now).await,
        AuthRoute::SamlAcs => crate::saml::acs(auth, body, directory, sessions, now),
        AuthRoute::SamlMetadata => Ok(crate::saml::metadata(auth)),
        AuthRoute::Logout => Ok(logout(auth, directory, sessions, kv)),
        AuthRoute::Session => Ok(whoami(auth, sessions)),
        AuthRoute::Switch => crate::switch::begin(auth, body.as_deref(), directory, sessions),
        AuthRoute::SwitchComplete => crate::switch::complete(auth, directory, sessions, now),
        AuthRoute::Unknown => {
            let e = GatewayError::Route(gateway_core::routes::RouteError::NotFound);
            Ok(e.response().into_response(&auth.request_id, Some(e)))
        }
    };
    let mut response = result.unwrap_or_else(|e| refusal(auth, e));
    response.headers.extend(
        auth.response_headers
            .iter()
            .map(|(n, v)| (n.clone(), v.as_bytes().to_vec())),
    );
    response
}

/// A refusal: the error page for a browser, the JSON error otherwise.
fn refusal(auth: &AuthRequest, e: SsoError) -> Response {
    if let SsoError::Unavailable(cause) = &e {
        eprintln!("gateway: request {}: login: {cause}", auth.request_id);
    }
    let error = GatewayError::Sso(e);
    let answer = error.response();
    if auth.html {
        let mut page = pages::error(
            answer.status,
            answer.code,
            &answer.message,
            auth.request_id.as_str(),
        );
        page.headers.extend(
            answer
                .headers
                .iter()
                .map(|(n, v)| (n.clone(), v.as_bytes().to_vec())),
        );
        page.cause = Some(error);
        page
    } else {
        answer.into_response(&auth.request_id, Some(error))
    }
}

pub(crate) fn unavailable(e: impl std::fmt::Display) -> SsoError {
    SsoError::Unavailable(e.to_string())
}

/// What the directory holds about a tenant's IdP (`tenantgate.sso_provider()`).
pub(crate) struct Provider {
    pub(crate) kind: String,
    pub(crate) display_name: String,
    pub(crate) oidc: Option<OidcProvider>,
    pub(crate) saml: Option<tenantgate_saml::IdentityProvider>,
    pub(crate) keys_age: Option<u64>,
}

pub(crate) fn provider(directory: &PgDirectory, auth: &AuthRequest) -> Result<Provider, SsoError> {
    let row = directory
        .one(
            "SELECT p.kind, p.display_name, p.issuer, p.client_id, p.client_secret, p.scopes, \
             p.authorization_endpoint, p.token_endpoint, p.jwks, p.iss_parameter::text, \
             p.keys_age::text, p.idp_entity_id, p.sso_url, p.certificates, \
             p.allow_idp_initiated::text FROM (VALUES (1)) AS one (x) \
             LEFT JOIN tenantgate.sso_provider($1::uuid) AS p ON true",
            &[ParameterValue::Uuid(auth.tenant.id.to_string())],
        )
        .map_err(SsoError::from)?;
    let text = |i: usize| row.get(i).cloned().flatten();
    let kind = text(0).ok_or(SsoError::NotConfigured)?;
    let oidc = match kind.as_str() {
        "oidc" => Some(OidcProvider {
            issuer: text(2).unwrap_or_default(),
            client_id: text(3).unwrap_or_default(),
            client_secret: text(4).filter(|s| !s.is_empty()),
            scopes: text(5).unwrap_or_else(|| "openid email profile".into()),
            authorization_endpoint: text(6).unwrap_or_default(),
            token_endpoint: text(7).unwrap_or_default(),
            jwks: text(8).unwrap_or_default(),
            iss_parameter: text(9).as_deref() != Some("false"),
        }),
        _ => None,
    };
    let saml = match kind.as_str() {
        "saml" => Some(tenantgate_saml::IdentityProvider {
            entity_id: text(11).unwrap_or_default(),
            sso_url: text(12).unwrap_or_default(),
            certificates_der: text(13)
                .unwrap_or_default()
                .split(',')
                .filter(|c| !c.is_empty())
                .filter_map(|c| {
                    base64::engine::general_purpose::STANDARD
                        .decode(c.replace('\n', ""))
                        .ok()
                })
                .collect(),
            allow_idp_initiated: text(14).as_deref() == Some("true"),
        }),
        _ => None,
    };
    Ok(Provider {
        kind,
        display_name: text(1).unwrap_or_default(),
        oidc,
        saml,
        keys_age: text(10).and_then(|a| a.parse().ok()),
    })
}

/// The OIDC provider, refusing a login when its keys are older than the bound (or were
/// never fetched, or the provider is not OIDC).
fn usable_oidc(p: Provider, sessions: &SessionConfig) -> Result<OidcProvider, SsoError> {
    let fresh = p.keys_age.is_some_and(|a| a <= sessions.keys_max_age_secs);
    match p.oidc {
        Some(o) if fresh && !o.authorization_endpoint.is_empty() && !o.jwks.is_empty() => Ok(o),
        Some(_) => Err(SsoError::KeysUnusable),
        None => Err(SsoError::NotConfigured),
    }
}

pub(crate) fn random_token() -> Result<String, SsoError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(unavailable)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

pub(crate) fn key(sessions: &SessionConfig) -> Result<&session::SessionKey, SsoError> {
    sessions
        .key
        .as_ref()
        .ok_or_else(|| unavailable("the session_key variable is not set"))
}

pub(crate) fn redirect(location: &str, cookies: &[String]) -> Response {
    cookies.iter().fold(Response::redirect(location), |r, c| {
        r.with_header("set-cookie", c.as_str())
    })
}

pub(crate) fn flow_cookie(value: &str, max_age: u64, tls: bool) -> String {
    let secure = if tls { "; Secure" } else { "" };
    format!("{FLOW_COOKIE}={value}; Path=/auth; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
}

fn login_page(auth: &AuthRequest, directory: &PgDirectory) -> Result<Response, SsoError> {
    let return_to = gateway_core::sso::return_to(&auth.query)?;
    let invitation = gateway_core::sso::invitation(&auth.query)?;
    if let Some(s) = &auth.session {
        return Ok(pages::signed_in(&auth.tenant.name, &s.user_id.to_string()));
    }
    let p = provider(directory, auth)?;
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("return_to", &return_to);
    if let Some(token) = &invitation {
        query.append_pair("invitation", token);
    }
    let start = format!("/auth/sso?{}", query.finish());
    let idp = if p.display_name.is_empty() {
        p.kind.to_uppercase()
    } else {
        p.display_name
    };
    Ok(pages::login(
        &auth.tenant.name,
        &idp,
        &start,
        invitation.is_some(),
    ))
}

fn start(
    auth: &AuthRequest,
    directory: &PgDirectory,
    sessions: &SessionConfig,
    now: UnixMillis,
) -> Result<Response, SsoError> {
    let return_to = gateway_core::sso::return_to(&auth.query)?;
    let invitation = gateway_core::sso::invitation(&auth.query)?;
    let invitation = invitation
        .as_deref()
        .map(gateway_core::sso::invitation_hash);
    let key = key(sessions)?;
    let p = provider(directory, auth)?;
    let flow = NewFlow {
        return_to,
        invitation_hash: invitation,
    };
    if p.kind == "saml" {
        return crate::saml::start(auth, p, &flow, key, directory, sessions, now);
    }
    let oidc = usable_oidc(p, sessions)?;
    let (state, nonce, verifier, binding) = (
        random_token()?,
        random_token()?,
        random_token()?,
        random_token()?,
    );
    directory
        .one(
            "SELECT b::text FROM (VALUES (1)) AS one (x) LEFT JOIN \
             tenantgate.sso_begin($1::uuid, $2, $3, $4, $5, NULL, $6, $7, $8) AS b ON true",
            &[
                ParameterValue::Uuid(auth.tenant.id.to_string()),
                ParameterValue::Binary(key.keyed_hash("state", &state).to_vec()),
                ParameterValue::Binary(key.keyed_hash("binding", &binding).to_vec()),
                ParameterValue::Str(nonce.clone()),
                ParameterValue::Str(verifier.clone()),
                ParameterValue::Str(flow.return_to.clone()),
                ParameterValue::Int32(FLOW_TTL_SECS as i32),
                flow.invitation_param(),
            ],
        )
        .map_err(SsoError::from)?;
    let location = oidc::authorize_url(&oidc, &auth.oidc_redirect_uri(), &state, &nonce, &verifier);
    Ok(redirect(
        &location,
        &[flow_cookie(&binding, FLOW_TTL_SECS, auth.tls)],
    ))
}

/// A login about to start: where it returns to, and the invitation it accepts (the
/// token's sha256, as the directory stores invitations).
pub(crate) struct NewFlow {
    pub(crate) return_to: String,
    pub(crate) invitation_hash: Option<[u8; 32]>,
}

impl NewFlow {
    pub(crate) fn invitation_param(&self) -> ParameterValue {
        self.invitation_hash.map_or(ParameterValue::DbNull, |h| {
            ParameterValue::Binary(h.to_vec())
        })
    }
}

/// A login in progress, taken from the directory.
pub(crate) struct Flow {
    pub(crate) nonce: String,
    pub(crate) verifier: String,
    pub(crate) saml_request_id: Option<String>,
    pub(crate) return_to: String,
    /// The invitation's sha256, hex, as the directory gave it back.
    pub(crate) invitation_hash: Option<String>,
}

/// Takes the flow named by `state` (it is gone afterwards, whatever happens next) and
/// checks it belongs to this tenant, this browser, and has not expired.
pub(crate) fn take_flow(
    auth: &AuthRequest,
    directory: &PgDirectory,
    key: &session::SessionKey,
    state: &str,
) -> Result<Flow, SsoError> {
    let row = directory
        .one(
            "SELECT f.tenant_id::text, encode(f.binding_hash, 'hex'), f.nonce, f.code_verifier, \
             f.return_to, f.expired::text, f.saml_request_id, encode(f.invitation_hash, 'hex') \
             FROM (VALUES (1)) AS one (x) \
             LEFT JOIN tenantgate.sso_take($1) AS f ON true",
            &[ParameterValue::Binary(
                key.keyed_hash("state", state).to_vec(),
            )],
        )
        .map_err(SsoError::from)?;
    let text = |i: usize| row.get(i).cloned().flatten();
    let tenant = text(0).ok_or(SsoError::StateInvalid)?;
    let binding_ok = auth.binding.as_deref().is_some_and(|b| {
        let expected = hex(&key.keyed_hash("binding", b));
        gateway_core::sso::constant_eq(expected.as_bytes(), text(1).unwrap_or_default().as_bytes())
    });
    if tenant != auth.tenant.id.as_str() || text(5).as_deref() != Some("false") || !binding_ok {
        return Err(SsoError::StateInvalid);
    }
    Ok(Flow {
        nonce: text(2).unwrap_or_default(),
        verifier: text(3).unwrap_or_default(),
        saml_request_id: text(6),
        return_to: text(4).unwrap_or_else(|| "/".into()),
        invitation_hash: text(7),
    })
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn callback(
    auth: &AuthRequest,
    directory: &PgDirectory,
    sessions: &SessionConfig,
    now: UnixMillis,
) -> Result<Response, SsoError> {
    let key = key(sessions)?;
    let (state, outcome) = Callback::parse(&auth.query)?;
    let flow = take_flow(auth, directory, key, &state)?;
    let cb = outcome?;
    let oidc = usable_oidc(provider(directory, auth)?, sessions)?;
    cb.check_issuer(&oidc)?;
    let exchange = oidc::token_request(&oidc, &cb.code, &auth.oidc_redirect_uri(), &flow.verifier);
    let (status, body) = post(&exchange).await?;
    let claims = oidc::verify_id_token(&oidc, status, &body, &flow.nonce, now)?;
    let login = Login {
        issuer: claims.issuer,
        subject: claims.subject,
        email: claims.email,
        email_verified: claims.email_verified,
        name: claims.name,
    };
    finish_login(auth, directory, sessions, key, &login, &flow, now)
}

/// Who the IdP says signed in, for `tenantgate.sso_login()`.
pub(crate) struct Login {
    pub(crate) issuer: String,
    pub(crate) subject: String,
    pub(crate) email: Option<String>,
    pub(crate) email_verified: bool,
    pub(crate) name: Option<String>,
}

impl Login {
    /// Refuses a claim holding a NUL character (Postgres takes none in text), naming it: a
    /// 400 before the directory is asked, never its 503.
    pub(crate) fn check_text(&self) -> Result<(), SsoError> {
        for (field, value) in [
            ("the identity provider's issuer", Some(&self.issuer)),
            ("the identity provider's subject", Some(&self.subject)),
            ("the identity provider's email claim", self.email.as_ref()),
            ("the identity provider's name claim", self.name.as_ref()),
        ] {
            if value.is_some_and(|v| v.contains('\0')) {
                return Err(SsoError::NulInText(field));
            }
        }
        Ok(())
    }
}

/// Opens the session for a verified login (membership rules in the directory) and sends the
/// browser to `return_to` with its cookie.
pub(crate) fn finish_login(
    auth: &AuthRequest,
    directory: &PgDirectory,
    sessions: &SessionConfig,
    key: &session::SessionKey,
    claims: &Login,
    flow: &Flow,
    now: UnixMillis,
) -> Result<Response, SsoError> {
    claims.check_text()?;
    let row = directory
        .one(
            "SELECT l.outcome, l.session_id::text, l.user_id::text FROM (VALUES (1)) AS one (x) \
             LEFT JOIN tenantgate.sso_login($1::uuid, $2, $3, $4, $5, $6, $7, decode($8, 'hex')) AS l ON true",
            &[
                ParameterValue::Uuid(auth.tenant.id.to_string()),
                ParameterValue::Str(claims.issuer.clone()),
                ParameterValue::Str(claims.subject.clone()),
                claims
                    .email
                    .clone()
                    .map_or(ParameterValue::DbNull, ParameterValue::Str),
                ParameterValue::Boolean(claims.email_verified),
                claims
                    .name
                    .clone()
                    .map_or(ParameterValue::DbNull, ParameterValue::Str),
                ParameterValue::Int32(sessions.session_ttl_secs.min(i32::MAX as u64) as i32),
                flow.invitation_hash
                    .clone()
                    .map_or(ParameterValue::DbNull, ParameterValue::Str),
            ],
        )
        .map_err(SsoError::from)?;
    let text = |i: usize| row.get(i).cloned().flatten();
    match text(0).as_deref() {
        Some("ok") => {}
        Some("email_not_verified") => return Err(SsoError::EmailNotVerified),
        Some("email_domain_not_allowed") => return Err(SsoError::EmailDomainNotAllowed),
        Some("not_a_member") => return Err(SsoError::NotAMember),
        Some("invitation_invalid") => return Err(SsoError::InvitationInvalid),
        Some("no_provider") => return Err(SsoError::NotConfigured),
        other => return Err(unavailable(format!("sso_login answered {other:?}"))),
    }
    let sid: uuid::Uuid = text(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| unavailable("sso_login: no session id"))?;
    Ok(
        signed_in_redirect(auth, sessions, key, sid, &flow.return_to, now)
            .with_header("set-cookie", flow_cookie("", 0, auth.tls).as_str()),
    )
}

/// Sends the browser to `return_to` with the cookie of the new session `sid`.
pub(crate) fn signed_in_redirect(
    auth: &AuthRequest,
    sessions: &SessionConfig,
    key: &session::SessionKey,
    sid: uuid::Uuid,
    return_to: &str,
    now: UnixMillis,
) -> Response {
    let ttl = sessions.cookie_ttl_secs.min(sessions.session_ttl_secs);
    let cookie = key.issue(sid, &auth.tenant.id, now.as_secs() + ttl);
    redirect(return_to, &[session::set_cookie(&cookie, ttl, auth.tls)])
}

/// POSTs the token request; the status and body, or 502 when the IdP cannot be reached.
async fn post(req: &oidc::OutboundRequest) -> Result<(u16, Vec<u8>), SsoError> {
    let mut builder = spin_sdk::http::Request::builder();
    builder
        .method(spin_sdk::http::Method::Post)
        .uri(req.url.as_str());
    for (n, v) in &req.headers {
        builder.header(n.as_str(), v.as_str());
    }
    let request = builder.body(req.body.clone().into_bytes()).build();
    let response: spin_sdk::http::Response = spin_sdk::http::send(request).await.map_err(|e| {
        eprintln!("gateway: token endpoint {}: {e}", req.url);
        SsoError::TokenExchange
    })?;
    let body = response.body().to_vec();
    if body.len() > 256 * 1024 {
        return Err(SsoError::TokenExchange);
    }
    Ok((*response.status(), body))
}

fn logout(
    auth: &AuthRequest,
    directory: &PgDirectory,
    sessions: &SessionConfig,
    kv: &impl KvCache,
) -> Response {
    if let Some(s) = &auth.session {
        if let Err(e) = directory.one(
            "SELECT e::text FROM (VALUES (1)) AS one (x) \
             LEFT JOIN tenantgate.session_end($1::uuid) AS e ON true",
            &[ParameterValue::Uuid(s.sid.to_string())],
        ) {
            // Fail closed: the session is not ended, say so.
            return refusal(auth, SsoError::from(e));
        }
        session::forget(&s.sid, sessions, kv);
    }
    let mut page = pages::signed_out(&auth.tenant.name);
    page.headers.push((
        "set-cookie".to_owned(),
        session::clear_cookie(auth.tls).into_bytes(),
    ));
    page
}

/// The answer to a route that needs a live session and has none: 401 `session_invalid`.
pub(crate) fn no_session(auth: &AuthRequest) -> Response {
    let e = GatewayError::Auth(gateway_core::auth::AuthError::Session(
        session::SessionError::Revoked,
    ));
    e.response().into_response(&auth.request_id, Some(e))
}

fn whoami(auth: &AuthRequest, sessions: &SessionConfig) -> Response {
    let (Some(s), Some(key)) = (&auth.session, sessions.key.as_ref()) else {
        return no_session(auth);
    };
    let body = serde_json::json!({
        "tenant": {"id": auth.tenant.id.as_str(), "slug": auth.tenant.slug.as_str(), "name": auth.tenant.name},
        "user_id": s.user_id.to_string(),
        "roles": s.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "permissions": s.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
        "csrf_token": key.csrf_token(s.sid),
    });
    Response {
        status: 200,
        headers: vec![
            ("content-type".to_owned(), b"application/json".to_vec()),
            ("cache-control".to_owned(), b"no-store".to_vec()),
        ],
        body: body.to_string().into_bytes(),
        cause: None,
    }
}
