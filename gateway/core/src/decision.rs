//! What the core decides for a request: [`Decision::Forward`] it to a backend, or
//! [`Decision::Respond`] here with a complete [`Response`] (status, headers, body).
//!
//! Refusals are responses too: [`crate::error::GatewayError::response`] gives the
//! [`ErrorResponse`] (status, stable code, client-safe message and any headers the refusal
//! needs, such as `WWW-Authenticate` or `Retry-After`), and [`ErrorResponse::into_response`]
//! the bytes to send. A stage that answers without a backend (a redirect to a login page,
//! a 429 with `RateLimit-*` headers) returns a [`Response`] the same way.

use std::borrow::Cow;

use tenant_contract::headers::REQUEST_ID_HEADER;
use tenant_contract::ErrorCode;

use crate::error::GatewayError;
use crate::ids::RequestId;
use crate::pipeline::Forward;

/// The core's decision for one request.
#[derive(Debug)]
pub enum Decision {
    /// Send the request to its backend, as planned.
    Forward(Forward),
    /// Answer here, exactly with this response.
    Respond(Response),
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
