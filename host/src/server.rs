//! The HTTP trigger: accepts connections, routes each request to a component, adds
//! the `spin-*` headers Spin adds, and runs the component in a fresh instance.
//!
//! Read top to bottom, [`handle`] is the life of a request on the host: reserved
//! paths, authority, route, headers, dispatch, response, one log line.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use wasmtime_wasi_http::WasiBody;

use crate::routes::RouteMatch;
use crate::runtime::{AppRuntime, DispatchError};

/// A bound, not yet running, HTTP server.
pub struct Server {
    rt: Arc<AppRuntime>,
    listener: TcpListener,
    addr: SocketAddr,
}

/// The `spin-*` values of one request, in the order Spin appends them.
pub(crate) struct SpinHeaders<'a> {
    pub path_info: &'a str,
    pub full_url: String,
    pub matched_route: &'a str,
    pub raw_component_route: &'a str,
    pub component_route: &'a str,
    pub client_addr: String,
    pub params: &'a [(String, String)],
}

/// Appends the `spin-*` headers after the client's own (which are kept, as in Spin:
/// a guest must not trust a `spin-*` header it did not get from the host, and the
/// host's value is always the last one).
pub(crate) fn append_spin_headers(headers: &mut HeaderMap, h: &SpinHeaders<'_>) {
    let mut add = |name: &str, value: &str| {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(n, v);
        }
    };
    add("spin-path-info", h.path_info);
    add("spin-full-url", &h.full_url);
    add("spin-matched-route", h.matched_route);
    add("spin-base-path", "/");
    add("spin-raw-component-route", h.raw_component_route);
    add("spin-component-route", h.component_route);
    add("spin-client-addr", &h.client_addr);
    for (name, value) in h.params {
        let header = format!(
            "spin-path-match-{}",
            name.to_ascii_lowercase().replace('_', "-")
        );
        add(&header, value);
    }
}

fn empty(status: StatusCode) -> Response<WasiBody> {
    text(status, "")
}

fn text(status: StatusCode, body: &str) -> Response<WasiBody> {
    let mut r = Response::new(
        Full::new(Bytes::from(body.to_owned()))
            .map_err(|never: Infallible| match never {})
            .boxed_unsync(),
    );
    *r.status_mut() = status;
    r
}

/// The request's authority: the `Host` header, or the URI's authority for an
/// absolute-form request; when both are present they must agree.
fn authority(req: &Request<Incoming>) -> Result<String, &'static str> {
    let mut hosts = req.headers().get_all(http::header::HOST).iter();
    let host = match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => return Err("more than one Host header"),
        (Some(h), None) => Some(h.to_str().map_err(|_| "Host header is not valid text")?),
        (None, _) => None,
    };
    match (host, req.uri().authority()) {
        (Some(h), Some(a)) if !h.eq_ignore_ascii_case(a.as_str()) => {
            Err("authority in 'Host' header does not match authority in URI")
        }
        (Some(h), _) => Ok(h.to_owned()),
        (None, Some(a)) => Ok(a.as_str().to_owned()),
        (None, None) => Err("no 'Host' header present in request"),
    }
}

fn reserved(rt: &AppRuntime, path: &str) -> Option<Response<WasiBody>> {
    let rest = path.strip_prefix("/.well-known/spin")?;
    Some(match rest {
        "/health" => text(StatusCode::OK, "OK"),
        "/info" => {
            let app = rt.app();
            let body = serde_json::to_string_pretty(&serde_json::json!({
                "name": app.name,
                "version": app.version,
            }))
            .unwrap_or_default();
            let mut r = text(StatusCode::OK, &body);
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        _ => empty(StatusCode::NOT_FOUND),
    })
}

/// Handles one request from outside. Never fails: every error is a status code.
pub async fn handle(
    rt: &Arc<AppRuntime>,
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
    let resp = route_and_dispatch(rt, req, client).await;
    tracing::info!(
        target: "tenantgate::request",
        "{method} {host_for_log} {path} {} {:.2}ms",
        resp.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    resp
}

async fn route_and_dispatch(
    rt: &Arc<AppRuntime>,
    req: Request<Incoming>,
    client: SocketAddr,
) -> Response<WasiBody> {
    if let Some(r) = reserved(rt, req.uri().path()) {
        return r;
    }
    let authority = match authority(&req) {
        Ok(a) => a,
        Err(msg) => return text(StatusCode::BAD_REQUEST, msg),
    };
    let path = req.uri().path().to_owned();
    let Some(m) = rt.app().router.route(&path) else {
        return empty(StatusCode::NOT_FOUND);
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
        Err(_) => return text(StatusCode::BAD_REQUEST, "invalid request target"),
    };
    append_spin_headers(
        &mut parts.headers,
        &SpinHeaders {
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
        },
    );
    let body = body.map_err(wasmtime_wasi_http::Error::from).boxed_unsync();
    let deadline = Instant::now() + rt.limits().request_timeout;
    match rt
        .dispatch(&component, Request::from_parts(parts, body), deadline)
        .await
    {
        Ok(resp) => resp,
        Err(e) => error_response(&component, e),
    }
}

/// Turns a failed dispatch into a status; the cause is logged, never sent.
pub(crate) fn error_response(component: &str, e: DispatchError) -> Response<WasiBody> {
    let status = match &e {
        DispatchError::AtCapacity | DispatchError::Timeout => StatusCode::SERVICE_UNAVAILABLE,
        DispatchError::NoSuchComponent(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    tracing::error!(component, "request failed: {e}");
    empty(status)
}

impl Server {
    /// Binds `addr`. Port 0 picks a free port; see [`Server::local_addr`].
    pub async fn bind(rt: Arc<AppRuntime>, addr: SocketAddr) -> anyhow::Result<Server> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
        let addr = listener.local_addr()?;
        Ok(Server { rt, listener, addr })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then stops accepting and waits (up to 10 s)
    /// for requests in flight to finish.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let graceful = GracefulShutdown::new();
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder.keep_alive(true).max_buf_size(64 * 1024);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = self.listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            tracing::warn!("accept failed: {e}");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let rt = self.rt.clone();
                    let svc = hyper::service::service_fn(move |req| {
                        let rt = rt.clone();
                        async move { Ok::<_, Infallible>(handle(&rt, req, peer).await) }
                    });
                    let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), svc));
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!("connection from {peer} ended: {e}");
                        }
                    });
                }
                () = &mut shutdown => break,
            }
        }
        drop(self.listener);
        tracing::info!("shutting down: waiting for requests in flight");
        tokio::select! {
            () = graceful.shutdown() => {}
            () = tokio::time::sleep(Duration::from_secs(10)) => {
                tracing::warn!("requests still in flight after 10s; stopping anyway");
            }
        }
        Ok(())
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
