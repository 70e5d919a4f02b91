//! The HTTP trigger: serves the app's public routes ([`server`]), answers each request
//! in a fresh instance of the routed component with the `spin-*` headers Spin adds
//! ([`spin_headers`]), and runs service chaining ([`chaining`]) through the same
//! [`HttpTrigger`].
//!
//! Read top to bottom, [`HttpTrigger::handle`] is the life of a request on the host:
//! reserved paths, the client's head against the host's limits, authority, route,
//! request URL, `spin-*` headers, dispatch, one log line. Every response the host
//! produces itself is a JSON error ([`error`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use wasmtime_wasi_http::WasiBody;

use crate::routes::RouteMatch;
use crate::runtime::{AppRuntime, DispatchError};

mod authority;
mod chaining;
pub mod error;
pub mod server;
mod spin_headers;

use error::Refusal;
use spin_headers::SpinHeaders;

/// What the host accepts of a client's request head. The host's own `spin-*` headers
/// are added after this check and never count against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// Header fields (each value of a repeated header counts).
    pub max_fields: usize,
    /// Bytes of the request line and header fields, as the client sent them.
    pub max_bytes: usize,
}

impl Default for HeadLimits {
    fn default() -> Self {
        HeadLimits {
            max_fields: 100,
            max_bytes: 64 << 10,
        }
    }
}

impl HeadLimits {
    fn check<B>(&self, req: &Request<B>) -> Result<(), Refusal> {
        if req.headers().len() > self.max_fields {
            return Err(Refusal::TooManyHeaders);
        }
        // `METHOD target HTTP/1.1\r\n`, then `name: value\r\n` per field.
        let line = req.method().as_str().len() + request_target_len(req.uri()) + 12;
        let fields: usize = req
            .headers()
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 4)
            .sum();
        if line + fields > self.max_bytes {
            return Err(Refusal::HeadTooLarge);
        }
        Ok(())
    }
}

fn request_target_len(uri: &http::Uri) -> usize {
    let authority = uri
        .authority()
        .map(|a| a.as_str().len() + uri.scheme_str().map_or(0, |s| s.len() + 3))
        .unwrap_or(0);
    authority + uri.path_and_query().map_or(1, |p| p.as_str().len())
}

/// The HTTP trigger of one app.
pub struct HttpTrigger {
    rt: Arc<AppRuntime>,
    head_limits: HeadLimits,
}

impl HttpTrigger {
    /// The trigger for `rt`, with the default [`HeadLimits`].
    pub fn new(rt: Arc<AppRuntime>) -> Arc<HttpTrigger> {
        HttpTrigger::with_limits(rt, HeadLimits::default())
    }

    /// The trigger for `rt`, accepting client heads within `head_limits`.
    pub fn with_limits(rt: Arc<AppRuntime>, head_limits: HeadLimits) -> Arc<HttpTrigger> {
        Arc::new(HttpTrigger { rt, head_limits })
    }

    /// The app.
    pub fn runtime(&self) -> &Arc<AppRuntime> {
        &self.rt
    }

    /// Runs `req` in component `id` (no routing, no `spin-*` headers added), chaining
    /// through this trigger.
    pub async fn dispatch(
        self: &Arc<Self>,
        id: &str,
        req: Request<WasiBody>,
        deadline: Instant,
    ) -> Result<Response<WasiBody>, DispatchError> {
        self.rt.dispatch(id, req, deadline, self.clone()).await
    }

    /// Handles one request from outside. Never fails: every error is a response.
    pub async fn handle(
        self: &Arc<Self>,
        req: Request<Incoming>,
        client: SocketAddr,
    ) -> Response<WasiBody> {
        let started = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let host_for_log = req
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("-")
            .to_owned();
        let resp = self.route_and_dispatch(req, client).await;
        tracing::info!(
            target: "tenantgate::request",
            "{method} {host_for_log} {path} {} {:.2}ms",
            resp.status().as_u16(),
            started.elapsed().as_secs_f64() * 1000.0
        );
        resp
    }

    async fn route_and_dispatch(
        self: &Arc<Self>,
        req: Request<Incoming>,
        client: SocketAddr,
    ) -> Response<WasiBody> {
        if let Some(r) = self.reserved(req.uri().path()) {
            return r;
        }
        if let Err(refusal) = self.head_limits.check(&req) {
            return refusal.response();
        }
        let authority = match authority::request_authority(req.headers(), req.uri()) {
            Ok(a) => a,
            Err(refusal) => return refusal.response(),
        };
        if !headers_are_utf8(req.headers()) {
            return Refusal::HeaderNotUtf8.response();
        }
        let path = req.uri().path().to_owned();
        let Some(m) = self.rt.app().router.route(&path) else {
            return Refusal::NoRoute.response();
        };
        let RouteMatch {
            component,
            raw_route,
            ref based_route,
            ref path_info,
            ref params,
        } = m;
        let component_route = m.component_route().to_owned();
        let component = component.to_owned();
        let path_and_query = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".into());
        let full_url = format!("http://{authority}{path_and_query}");
        let (mut parts, body) = req.into_parts();
        parts.uri = match full_url.parse() {
            Ok(u) => u,
            Err(_) => return Refusal::InvalidTarget.response(),
        };
        SpinHeaders {
            path_info,
            full_url: full_url.clone(),
            matched_route: if based_route.is_empty() {
                ""
            } else {
                based_route
            },
            raw_component_route: raw_route,
            component_route: &component_route,
            client_addr: client.to_string(),
            params,
        }
        .append_to(&mut parts.headers);
        let body = body.map_err(wasmtime_wasi_http::Error::from).boxed_unsync();
        let deadline = Instant::now() + self.rt.limits().request_timeout;
        match self
            .dispatch(&component, Request::from_parts(parts, body), deadline)
            .await
        {
            Ok(resp) => resp,
            Err(e) => error::dispatch_failed(&component, e),
        }
    }

    /// `/.well-known/spin/health` and `/info`; any other path under
    /// `/.well-known/spin` is the host's 404, never the app's.
    fn reserved(&self, path: &str) -> Option<Response<WasiBody>> {
        let rest = path.strip_prefix("/.well-known/spin")?;
        Some(match rest {
            "/health" => text(StatusCode::OK, "OK", None),
            "/info" => {
                let app = self.rt.app();
                let body = serde_json::to_string_pretty(&serde_json::json!({
                    "name": app.name,
                    "version": app.version,
                }))
                .unwrap_or_default();
                text(StatusCode::OK, &body, Some("application/json"))
            }
            _ => Refusal::UnknownReserved.response(),
        })
    }
}

/// Whether every header value is UTF-8, which Spin's trigger requires of every request
/// it runs (`prepare_request_headers`), from outside or chained.
pub(crate) fn headers_are_utf8(headers: &http::HeaderMap) -> bool {
    headers
        .values()
        .all(|v| std::str::from_utf8(v.as_bytes()).is_ok())
}

fn text(status: StatusCode, body: &str, content_type: Option<&'static str>) -> Response<WasiBody> {
    let mut r = Response::new(
        Full::new(Bytes::from(body.to_owned()))
            .map_err(|never: std::convert::Infallible| match never {})
            .boxed_unsync(),
    );
    *r.status_mut() = status;
    if let Some(ct) = content_type {
        r.headers_mut()
            .insert(http::header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    r
}
