//! Outbound HTTP from guests (`wasi:http/outgoing-handler`), as the store's
//! [`WasiHttpHooks`].
//!
//! Every request is checked against the calling component's `allowed_outbound_hosts`
//! before anything is sent; a refused request fails with `HTTP-request-denied`, an
//! error the guest sees. Requests to `http://<component>.spin.internal/...` are
//! service chaining: they never touch the network but go to a [`ServiceChain`] (the
//! HTTP trigger runs component `<component>` in-process, private routes included),
//! sharing the caller's deadline. This module does not know how chaining runs a
//! component; it only decides where a request goes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::allowed_hosts::{chaining_target, AllowedHosts};

/// Suffix of service-chaining hosts.
pub const INTERNAL_SUFFIX: &str = ".spin.internal";

/// The result of a chained request.
pub type ChainFuture =
    Pin<Box<dyn Future<Output = Result<http::Response<WasiBody>, Error>> + Send + 'static>>;

/// Runs a request a guest sent to `http://<component>.spin.internal/...`.
pub trait ServiceChain: Send + Sync + 'static {
    /// Runs `request` in `component`, finishing by `deadline`. An unknown component is
    /// [`Error::DestinationNotFound`].
    fn call(
        self: Arc<Self>,
        component: String,
        request: http::Request<WasiBody>,
        deadline: Instant,
    ) -> ChainFuture;
}

/// The [`WasiHttpHooks`] of one request's store.
pub struct OutboundHttp {
    component: String,
    allowed: Arc<AllowedHosts>,
    chain: Arc<dyn ServiceChain>,
    deadline: Instant,
}

type SendFuture = Box<
    dyn Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<WasiBody>,
                Box<dyn Future<Output = Result<(), Error>> + Send>,
            )>,
        > + Send,
>;

impl OutboundHttp {
    /// Outbound HTTP for `component`, allowed what `allowed` lists, chaining through
    /// `chain`, with every request bounded by `deadline`.
    pub fn new(
        component: &str,
        allowed: Arc<AllowedHosts>,
        chain: Arc<dyn ServiceChain>,
        deadline: Instant,
    ) -> OutboundHttp {
        OutboundHttp {
            component: component.to_owned(),
            allowed,
            chain,
            deadline,
        }
    }
}

/// Where an outbound request goes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Destination {
    /// Another component of this app.
    Component(String),
    /// The network.
    Network,
}

/// Decides whether `uri` may be requested under `allowed`, and where it goes, as Spin
/// does: the allow-list check first (on the parsed host), then service chaining when
/// the host as written is `<id>.spin.internal` (Spin's interceptor compares it
/// case-sensitively, any scheme or port).
pub(crate) fn classify(allowed: &AllowedHosts, uri: &http::Uri) -> Result<Destination, Error> {
    let scheme = uri.scheme_str().unwrap_or("https").to_owned();
    let host = uri.host().ok_or(Error::HttpRequestUriInvalid)?;
    if !allowed.allows(&scheme, host, uri.port_u16()) {
        return Err(Error::HttpRequestDenied);
    }
    match chaining_target(host) {
        Some(id) if !id.is_empty() => Ok(Destination::Component(id.to_owned())),
        _ => Ok(Destination::Network),
    }
}

impl WasiHttpHooks for OutboundHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> SendFuture {
        drop(fut);
        let decision = classify(&self.allowed, request.uri());
        let chain = self.chain.clone();
        let deadline = self.deadline;
        let caller = self.component.clone();
        Box::new(async move {
            match decision {
                Err(e) => {
                    tracing::warn!(
                        component = %caller,
                        uri = %request.uri(),
                        "outbound request denied by allowed_outbound_hosts"
                    );
                    Err(e)
                }
                Ok(Destination::Component(id)) => {
                    let resp = chain.call(id, request, deadline).await?;
                    let done: Box<dyn Future<Output = Result<(), Error>> + Send> =
                        Box::new(async { Ok(()) });
                    Ok((resp, done))
                }
                Ok(Destination::Network) => {
                    let (resp, io) =
                        wasmtime_wasi_http::default_send_request(request, options).await?;
                    let io: Box<dyn Future<Output = Result<(), Error>> + Send> = Box::new(io);
                    Ok((resp.map(BodyExt::boxed_unsync), io))
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allowed_hosts::AllowedHosts;

    fn uri(s: &str) -> http::Uri {
        s.parse().unwrap()
    }

    #[test]
    fn chaining_needs_an_entry_for_the_target() {
        let a = AllowedHosts::parse_literal(&["http://tasks.spin.internal"]).unwrap();
        assert_eq!(
            classify(&a, &uri("http://tasks.spin.internal/api")).unwrap(),
            Destination::Component("tasks".into())
        );
        assert!(matches!(
            classify(&a, &uri("http://admin.spin.internal/")),
            Err(Error::HttpRequestDenied)
        ));
        assert!(matches!(
            classify(&a, &uri("https://tasks.spin.internal/")),
            Err(Error::HttpRequestDenied)
        ));
        let any = AllowedHosts::parse_literal(&["http://*:80"]).unwrap();
        assert_eq!(
            classify(&any, &uri("http://a.b.spin.internal/")).unwrap(),
            Destination::Network,
            "only single-label ids chain"
        );
        assert_eq!(
            classify(&any, &uri("http://tasks.SPIN.INTERNAL/")).unwrap(),
            Destination::Network,
            "Spin's interceptor compares the suffix case-sensitively"
        );
        let wild =
            AllowedHosts::parse_literal_for(&["http://*.spin.internal"], &["tasks"]).unwrap();
        assert_eq!(
            classify(&wild, &uri("http://tasks.spin.internal/")).unwrap(),
            Destination::Component("tasks".into())
        );
        assert!(
            matches!(
                classify(&wild, &uri("http://ghost.spin.internal/")),
                Err(Error::HttpRequestDenied)
            ),
            "the wildcard allows the app's components only, as Spin expands it"
        );
        assert!(matches!(
            classify(&a, &uri("http://127.0.0.1:9/")),
            Err(Error::HttpRequestDenied)
        ));
    }

    #[test]
    fn network_requests_follow_the_list() {
        let a = AllowedHosts::parse_literal(&["http://127.0.0.1:*"]).unwrap();
        assert_eq!(
            classify(&a, &uri("http://127.0.0.1:4000/x")).unwrap(),
            Destination::Network
        );
        assert!(classify(&a, &uri("http://localhost:4000/x")).is_err());
        assert!(classify(&a, &uri("https://127.0.0.1:4000/x")).is_err());
    }
}
