//! The one place that turns the host's own refusals into responses: every response
//! the host produces itself (rather than a guest) is
//! `{"error":{"code","message","request_id"}}` with a stable `code`, a fixed
//! client-safe message and the right status. The cause of a failed dispatch is logged
//! with the request id, never sent.
//!
//! | status | code | when |
//! |---|---|---|
//! | 400 | `invalid_host` | `Host` missing, repeated, not UTF-8, not an authority, or disagreeing with an absolute-form target |
//! | 400 | `invalid_target` | the request target cannot form the request URL |
//! | 400 | `invalid_header` | a header value is not UTF-8 (Spin refuses such a request before the component, with a 500) |
//! | 404 | `not_found` | no public route matches; a `/.well-known/spin/*` path other than `health` and `info` |
//! | 431 | `headers_too_large` | more header fields or head bytes than the host accepts |
//! | 500 | `memory_limit` | the component needed more memory than `--max-memory-mib` |
//! | 500 | `component_failed` | the component trapped or gave no response |
//! | 503 | `at_capacity` | `--max-instances` guest instances are already running |
//! | 503 | `timeout` | the request ran past `--request-timeout-secs` |

use std::convert::Infallible;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use wasmtime_wasi_http::WasiBody;

use crate::runtime::DispatchError;

/// A request the host answers itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Two or more `Host` headers.
    DuplicateHost,
    /// Neither a `Host` header nor an absolute-form target.
    MissingHost,
    /// `Host` bytes that are not UTF-8.
    HostNotUtf8,
    /// `Host` that cannot be a URL authority.
    InvalidHost,
    /// `Host` and the absolute-form target name different authorities.
    HostMismatch,
    /// The request target cannot form the request URL.
    InvalidTarget,
    /// A header value that is not UTF-8: Spin's trigger cannot pass it to a component
    /// (`prepare_request_headers` fails and Spin answers 500).
    HeaderNotUtf8,
    /// More header fields than the host accepts.
    TooManyHeaders,
    /// More head bytes than the host accepts.
    HeadTooLarge,
    /// No public route matches.
    NoRoute,
    /// A `/.well-known/spin/*` path the host does not serve.
    UnknownReserved,
    /// `--max-instances` guest instances are already running.
    AtCapacity,
    /// The request ran past its deadline.
    Timeout,
    /// The guest needed more memory than its cap.
    MemoryLimit,
    /// The guest trapped or gave no response.
    ComponentFailed,
}

impl Refusal {
    /// Status, stable code and client-safe message.
    pub fn parts(self) -> (StatusCode, &'static str, &'static str) {
        use Refusal::*;
        match self {
            DuplicateHost => (
                StatusCode::BAD_REQUEST,
                "invalid_host",
                "More than one Host header.",
            ),
            MissingHost => (StatusCode::BAD_REQUEST, "invalid_host", "No Host header."),
            HostNotUtf8 => (
                StatusCode::BAD_REQUEST,
                "invalid_host",
                "The Host header is not valid UTF-8.",
            ),
            InvalidHost => (
                StatusCode::BAD_REQUEST,
                "invalid_host",
                "The Host header is not a valid authority.",
            ),
            HostMismatch => (
                StatusCode::BAD_REQUEST,
                "invalid_host",
                "The Host header disagrees with the request target.",
            ),
            InvalidTarget => (
                StatusCode::BAD_REQUEST,
                "invalid_target",
                "The request target is not valid.",
            ),
            HeaderNotUtf8 => (
                StatusCode::BAD_REQUEST,
                "invalid_header",
                "A header value is not valid UTF-8.",
            ),
            TooManyHeaders => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
                "The request has too many header fields.",
            ),
            HeadTooLarge => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
                "The request line and headers are too large.",
            ),
            NoRoute | UnknownReserved => (
                StatusCode::NOT_FOUND,
                "not_found",
                "Nothing is served here.",
            ),
            AtCapacity => (
                StatusCode::SERVICE_UNAVAILABLE,
                "at_capacity",
                "The server is busy; try again.",
            ),
            Timeout => (
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "The request took too long.",
            ),
            MemoryLimit => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "memory_limit",
                "The request needed more memory than the component may use.",
            ),
            ComponentFailed => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "component_failed",
                "The component failed.",
            ),
        }
    }

    /// The refusal for a failed dispatch.
    pub fn from_dispatch(e: &DispatchError) -> Refusal {
        match e {
            DispatchError::AtCapacity => Refusal::AtCapacity,
            DispatchError::Timeout => Refusal::Timeout,
            DispatchError::NoSuchComponent(_) => Refusal::NoRoute,
            DispatchError::MemoryLimit(_) => Refusal::MemoryLimit,
            DispatchError::Trap(_) | DispatchError::NoResponse | DispatchError::Guest(_) => {
                Refusal::ComponentFailed
            }
        }
    }

    /// The JSON response, with a fresh request id.
    pub fn response(self) -> Response<WasiBody> {
        self.response_with_id(&request_id())
    }

    /// The JSON response, with `request_id`.
    pub fn response_with_id(self, request_id: &str) -> Response<WasiBody> {
        let (status, code, message) = self.parts();
        let body = serde_json::json!({
            "error": { "code": code, "message": message, "request_id": request_id }
        })
        .to_string();
        let mut r = Response::new(
            Full::new(Bytes::from(body))
                .map_err(|never: Infallible| match never {})
                .boxed_unsync(),
        );
        *r.status_mut() = status;
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r
    }
}

/// Turns a failed dispatch into its response; the cause is logged, never sent.
pub(crate) fn dispatch_failed(component: &str, e: DispatchError) -> Response<WasiBody> {
    let id = request_id();
    tracing::error!(component, request_id = %id, "request failed: {e}");
    Refusal::from_dispatch(&e).response_with_id(&id)
}

/// A request id: milliseconds since the epoch and 64 random bits, in hex (the shape the
/// gateway uses).
pub fn request_id() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(millis);
    format!("{millis:x}-{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_is_the_documented_json_shape() {
        let r = Refusal::HostMismatch.response_with_id("abc");
        assert_eq!(r.status(), 400);
        assert_eq!(r.headers()["content-type"], "application/json");
        let a = request_id();
        let b = request_id();
        assert_ne!(a, b, "request ids differ");
    }
}
