//! What the core decides for a request: [`Decision::Forward`] it to a backend, or
//! [`Decision::Respond`] here with a complete [`Response`] (status, headers, body).
//!
//! Refusals are responses too: [`crate::error::GatewayError::response`] gives the
//! [`ErrorResponse`] (status, stable code, client-safe message and any headers the refusal
//! needs, such as `WWW-Authenticate` or `Retry-After`), and [`ErrorResponse::into_response`]
//! the bytes to send. A stage that answers without a backend (a redirect to a login page,
//! a 429 with `RateLimit-*` headers) returns a [`Response`] the same way.
//!
//! A [`Forward`] is built only from a [`Permit`] (tenant or platform), and holds the one
//! list of headers a backend gets: the client's, sanitised, then the gateway's own.

use crate::context::SignedContext;
pub use crate::error::{ErrorResponse, Response};
use crate::headers::sanitise;
use crate::ids::{ComponentId, RequestId};
use crate::limits::client_addr;
use crate::routes::{Grant, Permit};
use tenant_contract::headers::{
    CLIENT_ADDR_HEADER, CONTEXT_HEADER, REQUEST_ID_HEADER, TENANT_HOST_HEADER,
};

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

/// What the component sends to the backend. Built only from a [`Permit`]
/// ([`Forward::new`]), so nothing unrouted is ever forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    component: ComponentId,
    method: String,
    path_and_query: String,
    headers: Vec<(String, Vec<u8>)>,
    context: SignedContext,
    request_id: RequestId,
    response_headers: Vec<(String, String)>,
    login_redirect: Option<String>,
}

impl Forward {
    /// The plan for a permitted request: its component, path and query, the client's
    /// headers sanitised plus the gateway's own (`forwarded_headers`), and, on the
    /// platform surface, `Cache-Control: no-store` on the answer.
    pub fn new(
        permit: Permit,
        context: SignedContext,
        method: &str,
        headers: &[(String, Vec<u8>)],
        request_id: &RequestId,
    ) -> Forward {
        let (host, extra, response_headers) = match permit.grant() {
            Grant::Tenant(principal) => (principal.tenant().host().as_str(), None, Vec::new()),
            Grant::Platform(grant) => (
                grant.host(),
                grant.admin_header(),
                vec![("cache-control".to_owned(), "no-store".to_owned())],
            ),
        };
        let headers = forwarded_headers(headers, &context, host, extra, request_id);
        Forward {
            component: permit.component().clone(),
            method: method.to_owned(),
            path_and_query: permit.path_and_query().to_owned(),
            headers,
            context,
            request_id: request_id.clone(),
            response_headers,
            login_redirect: None,
        }
    }

    /// Adds headers to the backend's answer (`RateLimit`, `RateLimit-Policy`, a renewed
    /// session cookie), after the plan's own.
    pub fn with_response_headers(mut self, headers: Vec<(String, String)>) -> Forward {
        self.response_headers.extend(headers);
        self
    }

    /// Where to send the browser (302) when the backend answers 401 or 403: an anonymous
    /// browser navigation on a tenant with a login page.
    pub fn with_login_redirect(mut self, location: Option<String>) -> Forward {
        self.login_redirect = location;
        self
    }

    /// The backend component.
    pub fn component(&self) -> &ComponentId {
        &self.component
    }
    /// The method, unchanged.
    pub fn method(&self) -> &str {
        &self.method
    }
    /// The path and query, unchanged.
    pub fn path_and_query(&self) -> &str {
        &self.path_and_query
    }
    /// The sanitised request headers plus `x-tenant-context`, `x-tenant-host` and
    /// `x-request-id`.
    pub fn headers(&self) -> &[(String, Vec<u8>)] {
        &self.headers
    }
    /// The signed tenant context (also in [`Forward::headers`]).
    pub fn context(&self) -> &SignedContext {
        &self.context
    }
    /// The request id (also in [`Forward::headers`]).
    pub fn request_id(&self) -> &RequestId {
        &self.request_id
    }
    /// Headers the gateway adds to the backend's response.
    pub fn response_headers(&self) -> &[(String, String)] {
        &self.response_headers
    }
    /// Where a 401 or 403 from the backend sends the browser instead, if anywhere.
    pub fn login_redirect(&self) -> Option<&str> {
        self.login_redirect.as_deref()
    }

    /// `http://<component>.spin.internal<path_and_query>`.
    pub fn url(&self) -> String {
        format!(
            "http://{}.spin.internal{}",
            self.component, self.path_and_query
        )
    }
}

/// The headers a backend gets: the client's, sanitised, then the gateway's own: the signed
/// context, the host, the client's address (when the host gave one), `extra`, the request id.
fn forwarded_headers(
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
