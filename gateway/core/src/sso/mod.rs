//! Single sign-on: per-tenant OIDC (and SAML) logins, the gateway's own sessions, CSRF,
//! enforced SSO (docs/architecture.md §4).
//!
//! The gateway owns every path under `/auth/` on a tenant host ([`AuthRoute`]): the core
//! answers those with [`crate::decision::Decision::Auth`], and the component runs the login
//! with its I/O (the directory's `sso_*` functions, the IdP's token endpoint) using the
//! pure steps here: [`oidc`] for the protocol, [`session`] for the cookie, [`pages`] for
//! what a person sees. Everything else about a request with a session (its check, CSRF,
//! enforced SSO, the browser redirect to the login page) is a pipeline stage.

pub mod oidc;
pub mod pages;
pub mod session;
pub mod switch;

pub use crate::tenant::SsoMode;

use crate::ids::RequestId;
use crate::jwt::TokenError;
use crate::tenant::TenantRecord;
use session::SessionIdentity;

/// Why a login (or a request under SSO policy) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SsoError {
    /// Parameters that are not what the protocol sends: 400 `bad_request`.
    #[error("malformed login parameters")]
    Malformed,
    /// `return_to` is not a path on this host: 400 `bad_request`.
    #[error("return_to is not a relative path")]
    ReturnTo,
    /// Text bound for the directory (a login parameter, a claim of the IdP) holds a NUL
    /// character, which Postgres takes in no text: 400 `bad_request` naming the field,
    /// before any query.
    #[error("{0} contains a NUL character")]
    NulInText(&'static str),
    /// Unknown, used, expired, another tenant's or another browser's `state`: 400.
    #[error("login state invalid")]
    StateInvalid,
    /// The IdP answered with an error (or no code): 400 `sso_failed`.
    #[error("identity provider returned an error")]
    IdpError,
    /// The response's `iss` is not the flow's issuer (RFC 9207, mix-up): 400 `sso_failed`.
    #[error("authorisation response from another issuer")]
    IssuerMismatch,
    /// The token endpoint refused the code or answered garbage: 502 `sso_failed`.
    #[error("token exchange failed")]
    TokenExchange,
    /// The ID token does not verify: 400 `sso_failed`.
    #[error("ID token refused: {0}")]
    IdToken(TokenError),
    /// `azp` / audiences not this client: 400 `sso_failed`.
    #[error("ID token audience")]
    Audience,
    /// The ID token's `nonce` is not the flow's: 400 `sso_failed`.
    #[error("ID token nonce")]
    Nonce,
    /// A SAML response refused (its stable reason): 400 `sso_failed`.
    #[error("SAML response refused: {0}")]
    Saml(&'static str),
    /// A SAML assertion seen before: 400 `sso_failed`.
    #[error("SAML assertion replayed")]
    Replay,
    /// The tenant has no IdP: 404 `sso_not_configured`.
    #[error("no identity provider")]
    NotConfigured,
    /// The stored keys are past their bound or unusable: 503 `sso_keys_stale`.
    #[error("identity-provider keys stale or unusable")]
    KeysUnusable,
    /// 403 `email_not_verified`.
    #[error("email not verified")]
    EmailNotVerified,
    /// 403 `email_domain_not_allowed`.
    #[error("email domain not allowed")]
    EmailDomainNotAllowed,
    /// 403 `not_a_member`.
    #[error("not a member")]
    NotAMember,
    /// An invitation that is unknown, used, expired, revoked or for another email address:
    /// 404 `invitation_not_found` (every case alike, so a token reveals nothing).
    #[error("invitation invalid")]
    InvitationInvalid,
    /// A switch ticket that is unknown, used, expired or another tenant's: 400
    /// `switch_invalid`.
    #[error("switch ticket invalid")]
    SwitchInvalid,
    /// 503 `dependency_unavailable`.
    #[error("dependency unavailable: {0}")]
    Unavailable(String),
}

/// A path the gateway answers itself on a tenant host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthRoute {
    /// `GET /auth/login`: the login page.
    Login,
    /// `GET /auth/sso`: starts a login at the tenant's IdP.
    Start,
    /// `GET /auth/oidc/callback`: the OIDC authorisation response.
    OidcCallback,
    /// `POST /auth/saml/acs`: the SAML assertion consumer service.
    SamlAcs,
    /// `GET /auth/saml/metadata`: this tenant's SP metadata.
    SamlMetadata,
    /// `POST /auth/logout`: ends the session.
    Logout,
    /// `GET /auth/session`: who is signed in (JSON), with the CSRF token.
    Session,
    /// `POST /auth/switch` (`to=<slug>`): moves the signed-in user to another organisation
    /// they belong to, without a new login unless that organisation enforces SSO.
    Switch,
    /// `GET /auth/switch/complete?ticket=`: the other organisation's end of a switch.
    SwitchComplete,
    /// Any other path under `/auth/` (404), or a known path with the wrong method (405).
    Unknown,
}

impl AuthRoute {
    /// The route for `method` and `path`, `None` outside `/auth/`.
    pub fn of(method: &str, path: &str) -> Option<AuthRoute> {
        if path != "/auth" && !path.starts_with("/auth/") {
            return None;
        }
        let get = method == "GET" || method == "HEAD";
        Some(match (path, get, method == "POST") {
            ("/auth/login", true, _) => AuthRoute::Login,
            ("/auth/sso", true, _) => AuthRoute::Start,
            ("/auth/oidc/callback", true, _) => AuthRoute::OidcCallback,
            ("/auth/saml/acs", _, true) => AuthRoute::SamlAcs,
            ("/auth/saml/metadata", true, _) => AuthRoute::SamlMetadata,
            ("/auth/logout", _, true) => AuthRoute::Logout,
            ("/auth/session", true, _) => AuthRoute::Session,
            ("/auth/switch", _, true) => AuthRoute::Switch,
            ("/auth/switch/complete", true, _) => AuthRoute::SwitchComplete,
            _ => AuthRoute::Unknown,
        })
    }
}

/// A request for an [`AuthRoute`], decided up to the point where I/O is needed.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    /// Which route.
    pub route: AuthRoute,
    /// The admitted tenant.
    pub tenant: TenantRecord,
    /// `scheme://host[:port]` as the browser addressed this tenant.
    pub origin: String,
    /// The configured apex (tenants are `{slug}.{apex}`), for links to other tenants.
    pub apex: String,
    /// Served over TLS (cookies get `Secure` and the `__Host-` name).
    pub tls: bool,
    /// The query string, without `?`.
    pub query: String,
    /// The verified session, when the request carried one.
    pub session: Option<SessionIdentity>,
    /// The login flow's browser-binding cookie, when sent.
    pub binding: Option<String>,
    /// The browser asked for HTML (errors become pages).
    pub html: bool,
    /// The request id.
    pub request_id: RequestId,
    /// Headers to add to the answer (`RateLimit`).
    pub response_headers: Vec<(String, String)>,
}

impl AuthRequest {
    /// This tenant's OIDC redirect URI (exact; register it at the IdP).
    pub fn oidc_redirect_uri(&self) -> String {
        format!("{}/auth/oidc/callback", self.origin)
    }
    /// This tenant's SAML ACS URL.
    pub fn saml_acs_url(&self) -> String {
        format!("{}/auth/saml/acs", self.origin)
    }
    /// This tenant's SAML SP entity id.
    pub fn saml_entity_id(&self) -> String {
        format!("{}/auth/saml/metadata", self.origin)
    }
}

/// The largest body accepted at the SAML ACS (a form with one signed response).
pub const MAX_ACS_BODY: usize = 512 * 1024;

/// The login flow's browser-binding cookie name.
pub const FLOW_COOKIE: &str = "tg_sso_flow";

/// `return_to` as given, if it is a path on this host: starts with one `/`, no `//` or
/// `/\` prefix (protocol-relative), no scheme, no control characters or backslashes, at
/// most 2048 bytes. Absent means `/`.
pub fn return_to(query: &str) -> Result<String, SsoError> {
    match query_param(query, "return_to")? {
        None => Ok("/".to_owned()),
        Some(path) => local_path(path),
    }
}

/// `path` if it is a path on this host, by the rules of [`return_to`].
pub fn local_path(path: String) -> Result<String, SsoError> {
    let ok = path.starts_with('/')
        && !path.starts_with("//")
        && path.len() <= 2048
        && !path
            .bytes()
            .any(|b| b == b'\\' || b.is_ascii_control() || b == b' ' || b >= 0x80);
    if ok {
        Ok(path)
    } else {
        Err(SsoError::ReturnTo)
    }
}

/// The one value of parameter `name` in `query` (`None` when absent); a repeated
/// parameter is [`SsoError::Malformed`], one holding a NUL character
/// [`SsoError::NulInText`] naming it.
pub(crate) fn query_param(query: &str, name: &'static str) -> Result<Option<String>, SsoError> {
    let mut found = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if k == name && found.replace(v.into_owned()).is_some() {
            return Err(SsoError::Malformed);
        }
    }
    if found.as_deref().is_some_and(|v| v.contains('\0')) {
        return Err(SsoError::NulInText(name));
    }
    Ok(found)
}

/// The `invitation` parameter of a login: the token an invitation link carries, checked
/// for shape only (the directory decides whether it is valid). `None` when absent; a
/// repeated or malformed value is refused.
pub fn invitation(query: &str) -> Result<Option<String>, SsoError> {
    match query_param(query, "invitation")? {
        None => Ok(None),
        Some(t) if switch::token_shaped(&t) => Ok(Some(t)),
        Some(_) => Err(SsoError::InvitationInvalid),
    }
}

/// How the directory stores an invitation token: sha256 of its UTF-8 bytes.
pub fn invitation_hash(token: &str) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(token.as_bytes()).into()
}

/// `/auth/login?return_to=<path and query>`: where a browser without a session is sent.
pub fn login_location(path_and_query: &str) -> String {
    let enc: String = form_urlencoded::byte_serialize(path_and_query.as_bytes()).collect();
    format!("/auth/login?return_to={enc}")
}

/// Whether the request is a browser navigation (which gets a redirect to the login page
/// rather than a JSON 401): `Sec-Fetch-Mode: navigate`, or, from a browser that does not
/// send fetch metadata, a `GET` whose `Accept` names `text/html`.
pub fn is_navigation(method: &str, headers: &[(String, Vec<u8>)]) -> bool {
    if method != "GET" && method != "HEAD" {
        return false;
    }
    if let Some(mode) = header(headers, "sec-fetch-mode") {
        return mode.eq_ignore_ascii_case(b"navigate");
    }
    wants_html(headers)
}

/// Whether `Accept` names `text/html`.
pub fn wants_html(headers: &[(String, Vec<u8>)]) -> bool {
    header(headers, "accept").is_some_and(|v| {
        std::str::from_utf8(v)
            .map(|a| a.to_ascii_lowercase().contains("text/html"))
            .unwrap_or(false)
    })
}

/// A named cookie's value from the request's `Cookie` headers (the first one).
pub fn cookie<'a>(headers: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
        .filter_map(|(_, v)| std::str::from_utf8(v).ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim())
}

fn header<'a>(headers: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

/// CSRF defence for a request authenticated by a session cookie: a state-changing method
/// must come from this origin. Accepted: an `Origin` equal to `origin`; without `Origin`,
/// `Sec-Fetch-Site: same-origin`; or an `x-csrf-token` equal to the session's token (for
/// clients that send neither). Safe methods always pass.
pub fn csrf_ok(
    method: &str,
    headers: &[(String, Vec<u8>)],
    origin: &str,
    expected_token: &str,
) -> bool {
    if matches!(method, "GET" | "HEAD" | "OPTIONS") {
        return true;
    }
    if let Some(given) = header(headers, "x-csrf-token") {
        if crate::sso::constant_eq(given, expected_token.as_bytes()) {
            return true;
        }
    }
    match header(headers, "origin") {
        Some(o) => o.eq_ignore_ascii_case(origin.as_bytes()),
        None => header(headers, "sec-fetch-site").is_some_and(|s| s == b"same-origin"),
    }
}

/// Compares without an early exit.
pub fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
#[path = "sso_tests.rs"]
mod tests;
