//! `platform`: platform administration behind the gateway, on a private route, reached only on
//! the apex host. It serves
//!
//! - the JSON API under `/api/platform/...` (README "Platform administration"): the tenant list
//!   with status, plan, placement and usage; one tenant with its break-glass grants; suspend,
//!   reactivate, delete (with a grace period) and restore; the export as NDJSON; break-glass
//!   grants and their revocation. The gateway forwards it only for a platform admin (a token of
//!   a platform issuer with the `platform_admin` role), with a context whose `perms` hold
//!   `platform.admin` and whose tenant is the path's (`/tenants/{slug}/...`) or the nil uuid.
//!   Every statement runs on the **control-plane** database with that context bound
//!   ([`tenant_db::TenantDb::control_plane`]) and is a call to a `tenantgate.platform_*`
//!   function of migration 0013, which checks the role again and writes the audit row in the
//!   tenant's own log; the export's data rows are read in the tenant's placement through
//!   [`tenant_db::TenantDb::new`];
//! - the console's static bundle under `/platform` ([`assets`]).
//!
//! The role is checked here first (a clear 403 before any query) and again in SQL.

use spin_sdk::http::{Method, Request, Response};
#[cfg(target_arch = "wasm32")]
use spin_sdk::http_component;
use tenant_db::{Databases, TenantDb};

pub mod assets;
mod break_glass;
mod error;
pub mod export;
pub mod route;
mod tenants;
mod wire;

pub use error::ApiError;
use route::Endpoint;

// The export exists only in the wasm build: the native build (unit tests, clippy)
// cannot link a `wasi:http` export.
#[cfg(target_arch = "wasm32")]
#[http_component]
fn component(req: Request) -> Response {
    handle(req)
}

/// Serves one request; every failure becomes the JSON error response.
pub fn handle(req: Request) -> Response {
    if assets::is_console_path(req.path()) {
        return assets::serve(&req, req.path());
    }
    let rid = wire::request_id(&req);
    match serve(&req) {
        Ok(resp) => resp,
        Err(e) => e.into_response(&rid),
    }
}

/// Routes, checks the role and the body's type, then runs the endpoint.
fn serve(req: &Request) -> Result<Response, ApiError> {
    let endpoint = Endpoint::parse(req.method(), req.path())?;
    let dbs = Databases::from_variables()?;
    let db = TenantDb::control_plane(req, &dbs)?;
    endpoint.authorise(db.context())?;
    // No HTML form can send JSON: a state change in any other type is refused (the API is
    // bearer-only anyway, so there is no cookie a form could ride on).
    if endpoint.takes_body() && !wire::is_json(wire::content_type(req)) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let call = wire::Call {
        db: &db,
        query: req.query(),
        body: req.body(),
        client_addr: wire::client_addr(req),
        admin_label: wire::admin_label(req),
    };
    use Endpoint as E;
    let resp = match endpoint {
        E::Me => tenants::me(&call),
        E::Tenants => tenants::list(&call),
        E::Tenant(_) => tenants::show(&call),
        E::Lifecycle(_, action) => tenants::lifecycle(&call, action),
        E::Export(_) => export::export(&call, &dbs),
        E::Grants(_) => break_glass::list(&call),
        E::Grant(_) => break_glass::grant(&call),
        E::Revoke(_, id) => break_glass::revoke(&call, &id),
    }?;
    Ok(if *req.method() == Method::Head {
        // HEAD: the same status and headers, no body.
        let mut b = resp.into_builder();
        b.body(Vec::new());
        b.build()
    } else {
        resp
    })
}
