//! The one place errors become responses (docs/architecture.md §7).
//!
//! Every stage's error converts into [`GatewayError`]; [`GatewayError::response`] gives
//! its status, stable `code`, client-safe message and headers, and
//! [`ErrorResponse::into_response`] the response with the contract's JSON body
//! `{"error":{"code":"...","message":"...","request_id":"..."}}`. Messages are fixed
//! strings chosen here, never an internal error's text (that goes to logs through
//! `Display`). All the ways of not finding a tenant share one response, byte for byte.

use std::borrow::Cow;

use tenant_contract::headers::REQUEST_ID_HEADER;
use tenant_contract::ErrorCode;

use crate::auth::AuthError;
use crate::context::ContextError;
use crate::headers::LimitError;
use crate::host::HostError;
use crate::ids::RequestId;
use crate::jwt::TokenError;
use crate::lifecycle::LifecycleError;
use crate::ratelimit::RateLimitError;
use crate::resolve::ResolveError;
use crate::routes::RouteError;
use crate::sso::session::SessionError;
use crate::sso::SsoError;

/// A request the core is not given enough to decide on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadRequest {
    /// `CONNECT`, `TRACE` or a method that is not an RFC 9110 token.
    #[error("method not accepted")]
    Method,
    /// Headers or a body the component could not carry to the backend (an invalid
    /// header for the outgoing request, a body that broke off mid-stream).
    #[error("malformed request")]
    Malformed,
}

/// A backend failure, reported by the component after forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The backend could not be reached or answered with garbage: 502.
    #[error("backend unreachable")]
    Unreachable,
    /// The backend trapped, timed out, or its database is down: 503.
    #[error("backend unavailable")]
    Unavailable,
}

/// Any refusal, from any stage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// Host normalisation.
    #[error(transparent)]
    Host(#[from] HostError),
    /// Malformed request.
    #[error(transparent)]
    BadRequest(#[from] BadRequest),
    /// Size limits.
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// Tenant resolution.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// Lifecycle.
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    /// Authentication.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Routing.
    #[error(transparent)]
    Route(#[from] RouteError),
    /// Signing the context (cannot happen with a validated signer; kept for completeness).
    #[error(transparent)]
    Context(#[from] ContextError),
    /// Rate limits and quota.
    #[error(transparent)]
    RateLimit(#[from] RateLimitError),
    /// After forwarding.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// A login at `/auth/`.
    #[error(transparent)]
    Sso(#[from] SsoError),
}

impl From<TokenError> for GatewayError {
    fn from(e: TokenError) -> Self {
        GatewayError::Auth(AuthError::Token(e))
    }
}

const UNAVAILABLE: &str = "A service this request depends on is unavailable. Try again shortly.";

impl GatewayError {
    /// The response for this error: status, stable code, fixed client-safe message, and
    /// the headers it needs (`WWW-Authenticate: Bearer` on 401, `Retry-After: 5` on 503).
    pub fn response(&self) -> ErrorResponse {
        use ErrorCode as C;
        use GatewayError as G;
        let malformed = "The request is malformed.";
        let (status, code, message) = match self {
            G::Host(_) => (400, C::InvalidHost, "The request's host is not valid."),
            G::BadRequest(_) | G::Limit(LimitError::BadContentLength) => {
                (400, C::BadRequest, malformed)
            }
            G::Route(RouteError::BadPath) => (400, C::BadRequest, malformed),
            G::Limit(LimitError::HeadersTooLarge) => (
                431,
                C::HeadersTooLarge,
                "The request headers are too large.",
            ),
            G::Limit(LimitError::PayloadTooLarge) => {
                (413, C::PayloadTooLarge, "The request body is too large.")
            }
            G::Resolve(ResolveError::UnknownTenant) | G::Lifecycle(LifecycleError::Unknown(_)) => {
                (404, C::UnknownTenant, "No tenant is served here.")
            }
            G::Resolve(ResolveError::OrganisationRequired) => (
                401,
                C::Unauthenticated,
                "A bearer token naming an organisation is required on this host.",
            ),
            G::RateLimit(RateLimitError::Limited { headers, .. }) => {
                let mut r = ErrorResponse::new(
                    429,
                    C::RateLimited,
                    "Too many requests. Try again after the time in Retry-After.",
                );
                r.headers.extend(headers.iter().cloned());
                return r;
            }
            G::RateLimit(RateLimitError::QuotaExceeded { headers, .. }) => {
                let mut r = ErrorResponse::new(
                    429,
                    C::QuotaExceeded,
                    "This organisation's monthly request quota is used up.",
                );
                r.headers.extend(headers.iter().cloned());
                return r;
            }
            G::Resolve(ResolveError::Unavailable(_))
            | G::RateLimit(RateLimitError::Unavailable(_))
            | G::Route(RouteError::Misconfigured)
            | G::Auth(AuthError::Keys(_)) => (503, C::DependencyUnavailable, UNAVAILABLE),
            G::Lifecycle(LifecycleError::Suspended) => {
                (403, C::TenantSuspended, "This tenant is suspended.")
            }
            G::Auth(AuthError::Token(_)) => {
                (401, C::InvalidToken, "The bearer token was not accepted.")
            }
            G::Auth(AuthError::Session(SessionError::Unavailable)) => {
                (503, C::DependencyUnavailable, UNAVAILABLE)
            }
            G::Auth(AuthError::Session(_)) => (
                401,
                C::SessionInvalid,
                "Your session has ended or is not valid here. Sign in again at /auth/login.",
            ),
            G::Auth(AuthError::Csrf) => (
                403,
                C::CsrfFailed,
                "This request came from another site and was refused.",
            ),
            G::Auth(AuthError::SsoRequired) => (
                403,
                C::SsoRequired,
                "This organisation requires single sign-on. Sign in at /auth/login.",
            ),
            G::Auth(AuthError::PlatformTokenMissing) => (
                401,
                C::Unauthenticated,
                "The platform API needs a platform admin's bearer token.",
            ),
            G::Auth(AuthError::PlatformAdminRequired) => (
                403,
                C::PlatformAdminRequired,
                "This needs a platform admin.",
            ),
            G::Auth(AuthError::PlatformTokenOnTenant) => (
                403,
                C::PlatformAdminRequired,
                "A platform token is not an organisation's credential: only a platform admin with an active break-glass grant may use it here.",
            ),
            G::Auth(AuthError::BreakGlassRequired) => (
                403,
                C::BreakGlassRequired,
                "A platform admin needs an active break-glass grant for this organisation.",
            ),
            G::Sso(e) => return sso_response(e),
            G::Auth(AuthError::TenantMismatch) => (
                421,
                C::TenantMismatch,
                "The token was issued for a different tenant.",
            ),
            G::Route(RouteError::NotFound) => (404, C::NotFound, "No such resource."),
            G::Context(_) => (500, C::InternalError, "The request could not be processed."),
            G::Backend(BackendError::Unreachable) => (
                502,
                C::BackendUnavailable,
                "The service behind this route did not answer.",
            ),
            G::Backend(BackendError::Unavailable) => (
                503,
                C::BackendUnavailable,
                "The service behind this route is unavailable.",
            ),
        };
        let response = ErrorResponse::new(status, code, message);
        match status {
            401 => response.with_header("www-authenticate", "Bearer"),
            503 => response.with_header("retry-after", "5"),
            _ => response,
        }
    }
}

fn sso_response(e: &SsoError) -> ErrorResponse {
    use ErrorCode as C;
    let failed = "The identity provider's answer could not be accepted. Try signing in again.";
    let (status, code, message) = match e {
        SsoError::NulInText(field) => {
            return ErrorResponse::new(
                400,
                C::BadRequest,
                format!("{field} contains a NUL character, which text may not hold."),
            )
        }
        SsoError::Malformed => (400, C::BadRequest, "The login request is malformed."),
        SsoError::ReturnTo => (
            400,
            C::BadRequest,
            "return_to must be a path on this site, such as /projects.",
        ),
        SsoError::StateInvalid => (
            400,
            C::SsoStateInvalid,
            "This sign-in attempt is unknown, was already used, expired, or was started in another browser. Start again.",
        ),
        SsoError::IdpError => (
            400,
            C::SsoFailed,
            "The identity provider did not sign you in.",
        ),
        SsoError::TokenExchange => (502, C::SsoFailed, failed),
        SsoError::IssuerMismatch
        | SsoError::IdToken(_)
        | SsoError::Audience
        | SsoError::Nonce
        | SsoError::Saml(_)
        | SsoError::Replay => (400, C::SsoFailed, failed),
        SsoError::NotConfigured => (
            404,
            C::SsoNotConfigured,
            "This organisation has no single sign-on configured.",
        ),
        SsoError::KeysUnusable => (
            503,
            C::SsoKeysStale,
            "The identity provider's keys could not be refreshed. Sign-in is paused; try again later.",
        ),
        SsoError::EmailNotVerified => (
            403,
            C::EmailNotVerified,
            "Your identity provider has not verified your email address.",
        ),
        SsoError::EmailDomainNotAllowed => (
            403,
            C::EmailDomainNotAllowed,
            "Your email address is not in a domain this organisation has verified.",
        ),
        SsoError::NotAMember => (
            403,
            C::NotAMember,
            "You are not a member of this organisation. Ask an owner for an invitation.",
        ),
        SsoError::InvitationInvalid => (
            404,
            C::InvitationNotFound,
            "This invitation is unknown, was already used, expired, was revoked, or is for another email address. Ask for a new one.",
        ),
        SsoError::SwitchInvalid => (
            400,
            C::SwitchInvalid,
            "This switch link is unknown, was already used or expired. Switch again from your organisation.",
        ),
        SsoError::Unavailable(_) => (503, C::DependencyUnavailable, UNAVAILABLE),
    };
    let r = ErrorResponse::new(status, code, message);
    if status == 503 {
        r.with_header("retry-after", "5")
    } else {
        r
    }
}

/// A response the gateway gives itself. Header names are lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers, in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The complete body.
    pub body: Vec<u8>,
    /// Why the core refused, for logs only (never sent; its `Display` may hold internal
    /// detail). `None` for answers that are not refusals.
    pub cause: Option<GatewayError>,
}

impl Response {
    /// A `302 Found` to `location`, not to be cached.
    pub fn redirect(location: &str) -> Response {
        Response {
            status: 302,
            headers: vec![
                ("location".to_owned(), location.as_bytes().to_vec()),
                ("cache-control".to_owned(), b"no-store".to_vec()),
            ],
            body: Vec::new(),
            cause: None,
        }
    }

    /// Adds a header (name in lower case).
    pub fn with_header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Response {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// The first value of header `name` (any case), as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

/// A refusal before it is sent: status, stable code, client-safe message and the headers
/// this refusal needs. Owned, so a stage can add `Retry-After`, `RateLimit-*`,
/// `WWW-Authenticate`, `Location` or `Set-Cookie`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    /// HTTP status.
    pub status: u16,
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// Client-safe message (fixed text chosen by the core, never an internal error's).
    pub message: Cow<'static, str>,
    /// Extra headers, after the standard ones (`content-type`, `x-request-id`,
    /// `cache-control: no-store`).
    pub headers: Vec<(String, String)>,
}

impl ErrorResponse {
    /// A refusal with no extra headers.
    pub fn new(status: u16, code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    /// Adds a header (name in lower case).
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// The JSON body, `{"error":{"code","message","request_id"}}` (the contract's).
    pub fn body(&self, request_id: &RequestId) -> String {
        tenant_contract::error_body(self.code, &self.message, request_id.as_str())
    }

    /// The complete response: JSON body, `content-type`, `x-request-id`,
    /// `cache-control: no-store`, then this refusal's own headers.
    pub fn into_response(self, request_id: &RequestId, cause: Option<GatewayError>) -> Response {
        let body = self.body(request_id).into_bytes();
        let mut headers = vec![
            (
                "content-type".to_owned(),
                tenant_contract::error::ERROR_CONTENT_TYPE
                    .as_bytes()
                    .to_vec(),
            ),
            (
                REQUEST_ID_HEADER.to_owned(),
                request_id.as_str().as_bytes().to_vec(),
            ),
            ("cache-control".to_owned(), b"no-store".to_vec()),
        ];
        headers.extend(self.headers.into_iter().map(|(n, v)| (n, v.into_bytes())));
        Response {
            status: self.status,
            headers,
            body,
            cause,
        }
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
