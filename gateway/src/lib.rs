//! `gateway`: the tenantgate front door, a Spin component on `route = "/..."`.
//!
//! Every decision is made by `gateway-core` (pure Rust, tested and benchmarked natively);
//! this crate only connects it to Spin: the tenant directory is the control-plane
//! Postgres (`tenantgate.resolve_tenant_by_*`), the cache is Spin key-value, the clock is
//! read once per request, and the permitted request is forwarded to its backend by
//! service chaining, bodies streamed both ways.
//!
//! The life of a request, in [`serve`]: configuration → the core's stages (normalise
//! host, resolve tenant, admit lifecycle, authenticate, authorise route, sign context)
//! → forward. Every refusal is the DESIGN.md section 7 JSON.

use gateway_core::prelude::*;
use spin_sdk::http::{IncomingRequest, ResponseOutparam};

mod config;
mod forward;
mod ports;
mod respond;

/// The component's entry point (wasm only: a native build cannot link the export).
#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
async fn component(req: IncomingRequest, out: ResponseOutparam) {
    serve(req, out).await
}

/// Serves one request: decide, then forward or refuse.
pub async fn serve(req: IncomingRequest, out: ResponseOutparam) {
    let now = ports::now();
    let rid = ports::request_id(now);
    let config = match config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gateway: request {rid}: configuration: {e}");
            return respond::misconfigured(out, &rid);
        }
    };
    let parts = RequestParts {
        method: forward::method_name(&req.method()),
        target: req.uri(),
        headers: req.headers().entries(),
    };
    let ports = Ports {
        directory: ports::PgDirectory::new(&config.database_url),
        kv: ports::SpinKv::open(),
    };
    match handle(&parts, &config.core, &ports, now, &rid) {
        Ok(plan) => forward::forward(req, plan, &config.core.limits, out).await,
        Err(e) => {
            if e.response().status >= 500 {
                eprintln!("gateway: request {rid}: {e}");
            }
            respond::error(out, &e.response(), &rid)
        }
    }
}
