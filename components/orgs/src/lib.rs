//! `orgs`: the organisation layer behind the gateway, on a private route. It serves
//!
//! - the JSON API under `/api/org/...` (README "Organisations": members, invitations, roles
//!   and permissions, domains, SSO settings, usage, the audit log, my organisations and
//!   self-serve creation), over the **control-plane** database with the request's verified
//!   context bound ([`tenant_db::TenantDb::control_plane`]). Reads are SELECTs under RLS;
//!   every write is one call to a `tenantgate.*` function of migration 0010, which checks the
//!   permission, the no-escalation rule and the last owner itself and writes the audit row
//!   in the same transaction;
//! - the admin pages' static bundle under `/admin` ([`assets`]).
//!
//! The permission a route needs is checked here first (a clear 403 before any query) and
//! again in SQL, so a backend that ran any SQL as `tenantgate_app` gains nothing.

use spin_sdk::http::{Request, Response};
#[cfg(target_arch = "wasm32")]
use spin_sdk::http_component;
use tenant_db::{Databases, TenantDb};

pub mod assets;
mod audit;
mod error;
mod invitations;
mod members;
mod orgs;
mod roles;
pub mod route;
mod settings;
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
    if assets::is_admin_path(req.path()) {
        let csp = assets::csp(wire::tenant_host(&req), wire::context_slug(&req).as_deref());
        return assets::serve(&req, req.path(), &csp);
    }
    let rid = wire::request_id(&req);
    match serve(&req) {
        Ok(resp) => resp,
        Err(e) => e.into_response(&rid),
    }
}

/// Routes, checks the permission the route needs, then runs it on the control plane.
fn serve(req: &Request) -> Result<Response, ApiError> {
    let endpoint = Endpoint::parse(req.method(), req.path())?;
    let db = TenantDb::control_plane(req, &Databases::from_variables()?)?;
    endpoint.authorise(db.context())?;
    let call = wire::Call {
        db: &db,
        query: req.query(),
        body: req.body(),
        client_addr: wire::client_addr(req),
        origin: wire::origin(req),
    };
    use Endpoint as E;
    match endpoint {
        E::Me => orgs::me(&call),
        E::Permissions => orgs::permissions(&call),
        E::Organisations => orgs::list(&call),
        E::CreateOrganisation => orgs::create(&call),
        E::Members => members::list(&call),
        E::UpdateMember(id) => members::update(&call, &id),
        E::RemoveMember(id) => members::remove(&call, &id),
        E::Invitations => invitations::list(&call),
        E::CreateInvitation => invitations::create(&call),
        E::ResendInvitation(id) => invitations::resend(&call, &id),
        E::RevokeInvitation(id) => invitations::revoke(&call, &id),
        E::AcceptInvitation => invitations::accept(&call),
        E::Roles => roles::list(&call),
        E::CreateRole => roles::create(&call),
        E::UpdateRole(name) => roles::update(&call, &name),
        E::DeleteRole(name) => roles::delete(&call, &name),
        E::Domains => settings::domains(&call),
        E::AddDomain => settings::add_domain(&call),
        E::RemoveDomain(d) => settings::remove_domain(&call, &d),
        E::Sso => settings::sso(&call),
        E::UpdateSso => settings::update_sso(&call),
        E::Usage => settings::usage(&call),
        E::Audit => audit::list(&call),
        E::AuditExport => audit::export(&call),
    }
}
