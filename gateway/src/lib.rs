//! `gateway`: the tenantgate front door, a Spin component on `route = "/..."`.
//!
//! Every decision is made by `gateway-core` (pure Rust, tested and benchmarked natively);
//! this crate only connects it to Spin, one port per role (`ports.rs`): the tenant
//! directory is the control-plane Postgres (`tenantgate.resolve_tenant_by_*`), the cache
//! is Spin key-value, the atomic counters are `wasi:keyvalue` atomics, the
//! identity-provider keys come from the `jwt_issuers` variable, and the clock is read once
//! per request.
//!
//! The life of a request, in [`serve`]: configuration → the core's decision (normalise
//! host, resolve tenant, admit lifecycle, authenticate, authorise route, sign context) →
//! forward to the backend by service chaining, bodies streamed both ways, or answer here
//! with exactly the status, headers and body the core decided. Every refusal is the
//! docs/architecture.md §7 JSON.

use gateway_core::ports::Clock as _;
use gateway_core::prelude::*;
use spin_sdk::http::{IncomingRequest, ResponseOutparam};

mod config;
mod forward;
mod limiter;
mod ports;
mod respond;
mod saml;
mod sso;
mod switch;

/// The component's entry point (wasm only: a native build cannot link the export).
#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
async fn component(req: IncomingRequest, out: ResponseOutparam) {
    serve(req, out).await
}

/// Serves one request: the core decides, then this forwards or answers.
pub async fn serve(req: IncomingRequest, out: ResponseOutparam) {
    let now = ports::SystemClock.now();
    let rid = ports::request_id(now);
    let config = match config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gateway: request {rid}: configuration: {e}");
            respond::misconfigured(out, &rid);
            return;
        }
    };
    let parts = RequestParts {
        method: forward::method_name(&req.method()),
        target: req.uri(),
        headers: req.headers().entries(),
    };
    let ports = Ports {
        directory: ports::PgDirectory::new(&config.directory_database_url),
        cache: ports::SpinKv::open(),
        counters: config.store.limiter(),
        keys: &config.keys,
    };
    let (decision, meter) = handle_metered(&parts, &config.core, &ports, now, &rid);
    let status = match decision {
        Decision::Forward(plan) => forward::forward(req, plan, &config.core.limits, out).await,
        Decision::Auth(auth) => {
            let body = match auth.route {
                gateway_core::sso::AuthRoute::SamlAcs => read_body(req, sso::MAX_ACS_BODY).await,
                gateway_core::sso::AuthRoute::Switch => {
                    read_body(req, gateway_core::sso::switch::MAX_FORM_BODY).await
                }
                _ => None,
            };
            let answer = sso::serve(
                &auth,
                body,
                &config.core.sessions,
                &ports.directory,
                &ports.cache,
                now,
            )
            .await;
            respond::send(out, answer)
        }
        Decision::Respond(answer) => {
            if let Some(cause) = answer.cause.as_ref().filter(|_| answer.status >= 500) {
                eprintln!("gateway: request {rid}: {cause}");
            }
            respond::send(out, answer)
        }
    };
    // After the response: metering never delays it, and never refuses it.
    if let Some(meter) = meter {
        meter_request(&ports, &meter, status, now, config.usage_flush_ms, &rid);
    }
}

/// The request body, at most `cap` bytes (`None`: larger, or broken off).
async fn read_body(req: IncomingRequest, cap: usize) -> Option<Vec<u8>> {
    use futures::StreamExt as _;
    let mut stream = req.into_body_stream();
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        body.extend_from_slice(&chunk.ok()?);
        if body.len() > cap {
            return None;
        }
    }
    Some(body)
}

/// Counts the answered request and, when this request flushes, writes the batch to the
/// control plane (giving it back to the store if the write fails).
fn meter_request<C, J>(
    ports: &Ports<ports::PgDirectory, C, limiter::Limiter, J>,
    meter: &Meter,
    status: u16,
    now: UnixMillis,
    interval_ms: u64,
    rid: &RequestId,
) {
    let key = meter.key(status, now);
    let batch = match ports.counters.meter(&key, now, interval_ms) {
        Ok(batch) => batch,
        Err(e) => {
            eprintln!("gateway: request {rid}: usage not counted: {e}");
            return;
        }
    };
    if batch.is_empty() {
        return;
    }
    let rows = gateway_core::metering::rows_json(&batch);
    if let Err(e) = ports.directory.record_usage(&rows) {
        eprintln!("gateway: request {rid}: usage flush failed, kept for the next: {e}");
        if let Err(e) = ports.counters.give_back(&batch) {
            eprintln!(
                "gateway: request {rid}: usage batch lost ({} counters): {e}",
                batch.len()
            );
        }
    }
}
