//! What the core decides for a request: [`Decision::Forward`] it to a backend, or
//! [`Decision::Respond`] here with a complete [`Response`] (status, headers, body).
//!
//! Refusals are responses too: [`crate::error::GatewayError::response`] gives the
//! [`ErrorResponse`] (status, stable code, client-safe message and any headers the refusal
//! needs, such as `WWW-Authenticate` or `Retry-After`), and [`ErrorResponse::into_response`]
//! the bytes to send. A stage that answers without a backend (a redirect to a login page,
//! a 429 with `RateLimit-*` headers) returns a [`Response`] the same way.

use crate::context::SignedContext;
pub use crate::error::{ErrorResponse, Response};
use crate::ids::{ComponentId, RequestId};

/// The core's decision for one request.
#[derive(Debug)]
pub enum Decision {
    /// Send the request to its backend, as planned.
    Forward(Forward),
    /// Answer here, exactly with this response.
    Respond(Response),
    /// A login route (`/auth/...`): the component runs it with its I/O
    /// (`crate::sso`).
    Auth(Box<crate::sso::AuthRequest>),
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
    /// Headers the gateway adds to the backend's response (`RateLimit`, `RateLimit-Policy`,
    /// a renewed session cookie).
    pub response_headers: Vec<(String, String)>,
    /// For an anonymous browser navigation on a tenant with a login page: when the backend
    /// answers 401 or 403, send the browser here (302) instead.
    pub login_redirect: Option<String>,
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
