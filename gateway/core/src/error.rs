//! The one place errors become responses (DESIGN §7).
//!
//! Every stage's error converts into [`GatewayError`]; [`GatewayError::response`] gives
//! its status, stable `code` and client-safe message, and [`ErrorResponse::body`] the JSON
//! `{"error":{"code":"...","message":"...","request_id":"..."}}`. Messages are fixed
//! strings chosen here, never an internal error's text (that goes to logs through
//! `Display`). All the ways of not finding a tenant share one response, byte for byte.

use tenant_contract::ErrorCode;

use crate::auth::AuthError;
use crate::context::ContextError;
use crate::headers::LimitError;
use crate::host::HostError;
use crate::ids::RequestId;
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

/// Status, stable code and client-safe message of a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorResponse {
    /// HTTP status.
    pub status: u16,
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// Client-safe message.
    pub message: &'static str,
}

const UNKNOWN_TENANT: ErrorResponse = ErrorResponse {
    status: 404,
    code: ErrorCode::UnknownTenant,
    message: "No tenant is served here.",
};
const UNAVAILABLE: ErrorResponse = ErrorResponse {
    status: 503,
    code: ErrorCode::DependencyUnavailable,
    message: "A service this request depends on is unavailable. Try again shortly.",
};
const INVALID_TOKEN: ErrorResponse = ErrorResponse {
    status: 401,
    code: ErrorCode::InvalidToken,
    message: "The bearer token was not accepted.",
};

impl GatewayError {
    /// The response for this error.
    pub fn response(&self) -> ErrorResponse {
        use GatewayError as G;
        let r = |status, code, message| ErrorResponse {
            status,
            code,
            message,
        };
        match self {
            G::Host(_) => r(
                400,
                ErrorCode::InvalidHost,
                "The request's host is not valid.",
            ),
            G::BadRequest(_) | G::Limit(LimitError::BadContentLength) => {
                r(400, ErrorCode::BadRequest, "The request is malformed.")
            }
            G::Route(RouteError::BadPath) => {
                r(400, ErrorCode::BadRequest, "The request is malformed.")
            }
            G::Limit(LimitError::HeadersTooLarge) => r(
                431,
                ErrorCode::HeadersTooLarge,
                "The request headers are too large.",
            ),
            G::Limit(LimitError::PayloadTooLarge) => r(
                413,
                ErrorCode::PayloadTooLarge,
                "The request body is too large.",
            ),
            G::Resolve(ResolveError::UnknownTenant) | G::Lifecycle(LifecycleError::Unknown(_)) => {
                UNKNOWN_TENANT
            }
            G::Resolve(ResolveError::OrganisationRequired) => r(
                401,
                ErrorCode::Unauthenticated,
                "A bearer token naming an organisation is required on this host.",
            ),
            G::Resolve(ResolveError::Unavailable(_)) | G::Route(RouteError::Misconfigured) => {
                UNAVAILABLE
            }
            G::Lifecycle(LifecycleError::Suspended) => {
                r(403, ErrorCode::TenantSuspended, "This tenant is suspended.")
            }
            G::Auth(AuthError::Token(_)) => INVALID_TOKEN,
            G::Auth(AuthError::TenantMismatch) => r(
                421,
                ErrorCode::TenantMismatch,
                "The token was issued for a different tenant.",
            ),
            G::Route(RouteError::NotFound) => r(404, ErrorCode::NotFound, "No such resource."),
            G::Context(_) => r(
                500,
                ErrorCode::InternalError,
                "The request could not be processed.",
            ),
            G::Backend(BackendError::Unreachable) => r(
                502,
                ErrorCode::BackendUnavailable,
                "The service behind this route did not answer.",
            ),
            G::Backend(BackendError::Unavailable) => r(
                503,
                ErrorCode::BackendUnavailable,
                "The service behind this route is unavailable.",
            ),
        }
    }
}

impl ErrorResponse {
    /// The JSON body, `{"error":{"code","message","request_id"}}` (the contract's).
    pub fn body(&self, request_id: &RequestId) -> String {
        tenant_contract::error_body(self.code, self.message, request_id.as_str())
    }

    /// Extra response headers this status needs (`WWW-Authenticate` on 401).
    pub fn headers(&self) -> Vec<(&'static str, &'static str)> {
        match self.status {
            401 => vec![("www-authenticate", "Bearer")],
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
