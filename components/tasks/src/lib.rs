//! `tasks`: the example backend. A JSON API for the tenant's projects and tasks, on a
//! private route: only the gateway reaches it, with a signed `x-tenant-context`.
//!
//! | method | path | permission | answer |
//! |---|---|---|---|
//! | GET | `/api/projects?limit=&after=` | `tasks.read` | `{"items": [...], "next": cursor or null}` |
//! | POST | `/api/projects` `{"name"}` | `tasks.write` | 201, the project |
//! | GET, PATCH, DELETE | `/api/projects/{id}` | read / write / write | the project, or 204 |
//! | GET | `/api/tasks?project_id=&done=&limit=&after=` | `tasks.read` | `{"items": [...], "next": ...}` |
//! | POST | `/api/tasks` `{"project_id","title","description"?,"done"?}` | `tasks.write` | 201, the task |
//! | GET, PATCH, DELETE | `/api/tasks/{id}` | read / write / write | the task, or 204 |
//!
//! Another tenant's ids answer 404, exactly like ids that do not exist: row-level
//! security hides them, so this code never sees them. Lists are keyset-paged in
//! creation order; `after` is the opaque `next` of the previous page.
//!
//! `tasks` is the tenant's application, so the gateway routes it every path no other
//! component claims (`/=tasks`): `GET /` is the tenant's home page ([`page`]), and any
//! other path is 404 `not_found` (JSON, or an HTML page to a browser navigation), answered
//! before the database is opened.

use spin_sdk::http::{Request, Response};
#[cfg(target_arch = "wasm32")]
use spin_sdk::http_component;
use tenant_db::{Databases, TenantDb};

mod error;
mod page;
mod projects;
mod route;
mod tasks;
mod wire;

pub use error::ApiError;
pub use route::{Resource, Route};

// The export exists only in the wasm build: the native build (unit tests, clippy)
// cannot link a `wasi:http` export.
#[cfg(target_arch = "wasm32")]
#[http_component]
fn component(req: Request) -> Response {
    handle(req)
}

/// Serves one request; every failure becomes the JSON error response.
pub fn handle(req: Request) -> Response {
    let path = req.path();
    if page::is_page_path(path) {
        return page::serve(&req, path);
    }
    if path != "/api" && !path.starts_with("/api/") {
        return backend_api::refusal(
            &req,
            404,
            tenant_contract::ErrorCode::NotFound,
            "No such resource.",
            &[],
        );
    }
    let rid = backend_api::request_id(&req);
    match serve(&req) {
        Ok(resp) => resp,
        Err(e) => e.into_response(&rid),
    }
}

/// Routes, checks the permission, then runs the operation in the tenant's database.
fn serve(req: &Request) -> Result<Response, ApiError> {
    let route = Route::parse(req.method(), req.path())?;
    let db = TenantDb::from_request(req, &Databases::from_variables()?)?;
    route.authorise(db.context())?;
    let query = wire::Query::parse(req.query())?;
    match route.resource {
        Resource::Projects => projects::serve(&db, &route, &query, req.body()),
        Resource::Tasks => tasks::serve(&db, &route, &query, req.body()),
    }
}
