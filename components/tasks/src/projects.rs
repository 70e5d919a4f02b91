//! `/api/projects`: a tenant's projects.

use serde::Deserialize;
use spin_sdk::http::Response;
use tenant_db::{ParameterValue as P, TenantDb};

use crate::route::{Op, Route};
use crate::wire::{self, Query};
use crate::ApiError;

fn columns() -> String {
    format!(
        "id::text AS id, name, created_by_user_id::text AS created_by_user_id, {}, {}",
        wire::ts("created_at"),
        wire::ts("updated_at")
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewProject {
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectPatch {
    name: Option<String>,
}

fn name(n: &str) -> Result<String, ApiError> {
    let n = n.trim();
    if n.is_empty() || n.chars().count() > 200 {
        return Err(ApiError::BadRequest(
            "name must be 1 to 200 characters".into(),
        ));
    }
    Ok(n.to_owned())
}

/// Serves one project operation.
pub fn serve(db: &TenantDb, route: &Route, q: &Query, body: &[u8]) -> Result<Response, ApiError> {
    match &route.op {
        Op::List => {
            let rows = db.read(|tx| wire::list(tx, "projects", &columns(), Vec::new(), q))?;
            Ok(json(200, wire::page(&rows, q.limit)))
        }
        Op::Create => {
            let new: NewProject = wire::body(body)?;
            let name = name(&new.name)?;
            let rows = db.write(|tx| {
                tx.query(
                    &format!(
                        "INSERT INTO projects (name) VALUES ($1) RETURNING {}",
                        columns()
                    ),
                    &[P::Str(name)],
                )
            })?;
            one(201, &rows, "project")
        }
        Op::Get(id) => {
            let rows = db.read(|tx| {
                tx.query(
                    &format!("SELECT {} FROM projects WHERE id = $1", columns()),
                    &[P::Uuid(id.clone())],
                )
            })?;
            one(200, &rows, "project")
        }
        Op::Update(id) => {
            let patch: ProjectPatch = wire::body(body)?;
            let name = patch.name.as_deref().map(name).transpose()?;
            let rows = db.write(|tx| {
                tx.query(
                    &format!(
                        "UPDATE projects SET name = coalesce($2, name) WHERE id = $1 RETURNING {}",
                        columns()
                    ),
                    &[P::Uuid(id.clone()), name.map_or(P::DbNull, P::Str)],
                )
            })?;
            one(200, &rows, "project")
        }
        Op::Delete(id) => {
            let n = db.write(|tx| {
                tx.execute("DELETE FROM projects WHERE id = $1", &[P::Uuid(id.clone())])
            })?;
            gone(n, "project")
        }
    }
}

/// A JSON response.
pub fn json(status: u16, body: Vec<u8>) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body)
        .build()
}

/// The single row as a JSON object, or 404.
pub fn one(
    status: u16,
    rows: &tenant_db::RowSet,
    what: &'static str,
) -> Result<Response, ApiError> {
    let objects = wire::Objects::new(rows);
    match objects.first() {
        Some(row) => Ok(json(
            status,
            serde_json::to_vec(&row).expect("a row of text, bool and integers serialises"),
        )),
        None => Err(ApiError::NotFound(what)),
    }
}

/// 204 when a row was deleted, else 404.
pub fn gone(n: u64, what: &'static str) -> Result<Response, ApiError> {
    if n == 0 {
        return Err(ApiError::NotFound(what));
    }
    Ok(Response::builder()
        .status(204)
        .body(Vec::<u8>::new())
        .build())
}
