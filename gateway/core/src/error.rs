//! The one place errors become responses (DESIGN §7).
//!
//! Every stage's error converts into [`GatewayError`]; [`GatewayError::response`] gives
//! its status, stable `code`, client-safe message and headers, and
//! [`ErrorResponse::into_response`] the response with the contract's JSON body
//! `{"error":{"code":"...","message":"...","request_id":"..."}}`. Messages are fixed
//! strings chosen here, never an internal error's text (that goes to logs through
//! `Display`). All the ways of not finding a tenant share one response, byte for byte.

use tenant_contract::ErrorCode;

pub use crate::decision::ErrorResponse;

use crate::auth::AuthError;
use crate::context::ContextError;
use crate::headers::LimitError;
use crate::host::HostError;
use crate::jwt::TokenError;
use crate::lifecycle::LifecycleError;
use crate::resolve::ResolveError;
use crate::routes::RouteError;

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
    /// After forwarding.
    #[error(transparent)]
    Backend(#[from] BackendError),
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
            G::Resolve(ResolveError::Unavailable(_))
            | G::Route(RouteError::Misconfigured)
            | G::Auth(AuthError::Keys(_)) => (503, C::DependencyUnavailable, UNAVAILABLE),
            G::Lifecycle(LifecycleError::Suspended) => {
                (403, C::TenantSuspended, "This tenant is suspended.")
            }
            G::Auth(AuthError::Token(_)) => {
                (401, C::InvalidToken, "The bearer token was not accepted.")
            }
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

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
