//! Service chaining: a guest's request to `http://<component>.spin.internal/...` runs
//! component `<component>` in-process (private routes included), with the headers Spin
//! gives a chained request: no `Host`, the synthetic route `/...`, `spin-full-url` on
//! `localhost`, client address `0.0.0.0:0`. The chained request shares the caller's
//! deadline and chains onward through the same trigger.

use std::sync::Arc;
use std::time::Instant;

use wasmtime_wasi_http::{Error, WasiBody};

use super::spin_headers::SpinHeaders;
use super::HttpTrigger;
use crate::outbound_http::{ChainFuture, ServiceChain};
use crate::runtime::DispatchError;

impl ServiceChain for HttpTrigger {
    fn call(
        self: Arc<Self>,
        component: String,
        request: http::Request<WasiBody>,
        deadline: Instant,
    ) -> ChainFuture {
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            if !super::headers_are_utf8(&parts.headers) {
                // Spin's trigger answers the caller 500 without running the component.
                let mut r = http::Response::new(WasiBody::default());
                *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                return Ok(r);
            }
            parts.headers.remove(http::header::HOST);
            let path = parts.uri.path().to_owned();
            let path_and_query = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| "/".into());
            SpinHeaders {
                path_info: &path,
                full_url: format!("http://localhost{path_and_query}"),
                matched_route: "/...",
                raw_component_route: "/...",
                component_route: "",
                client_addr: "0.0.0.0:0".into(),
                params: &[],
            }
            .append_to(&mut parts.headers);
            self.dispatch(&component, http::Request::from_parts(parts, body), deadline)
                .await
                .map_err(|e| match e {
                    DispatchError::NoSuchComponent(_) => Error::DestinationNotFound,
                    DispatchError::Timeout => Error::HttpResponseTimeout,
                    DispatchError::AtCapacity => Error::ConnectionLimitReached,
                    other => Error::InternalError(Some(other.to_string())),
                })
        })
    }
}
