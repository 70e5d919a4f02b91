//! `/api/tasks`: a tenant's tasks.

use serde::Deserialize;
use spin_sdk::http::Response;
use tenant_db::{ParameterValue as P, TenantDb};

use crate::projects::{gone, json, one};
use crate::route::{Op, Route};
use crate::wire::{self, Query};
use crate::ApiError;

fn columns() -> String {
    format!(
        "id::text AS id, project_id::text AS project_id, title, description, done, \
         created_by_user_id::text AS created_by_user_id, {}, {}",
        wire::ts("created_at"),
        wire::ts("updated_at")
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTask {
    project_id: String,
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    done: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskPatch {
    project_id: Option<String>,
    title: Option<String>,
    description: Option<String>,
    done: Option<bool>,
}

fn title(t: &str) -> Result<String, ApiError> {
    let t = t.trim();
    if t.is_empty() || t.chars().count() > 500 {
        return Err(ApiError::BadRequest(
            "title must be 1 to 500 characters".into(),
        ));
    }
    Ok(t.to_owned())
}

fn description(d: &str) -> Result<String, ApiError> {
    if d.chars().count() > 10_000 {
        return Err(ApiError::BadRequest(
            "description must be at most 10000 characters".into(),
        ));
    }
    Ok(d.to_owned())
}

fn project(id: &str) -> Result<String, ApiError> {
    wire::parse_uuid(id).ok_or_else(|| ApiError::BadRequest("project_id must be a uuid".into()))
}

/// Serves one task operation.
pub fn serve(db: &TenantDb, route: &Route, q: &Query, body: &[u8]) -> Result<Response, ApiError> {
    match &route.op {
        Op::List => {
            let mut filters = Vec::new();
            if let Some(p) = &q.project_id {
                filters.push(("project_id = ?", vec![P::Uuid(p.clone())]));
            }
            if let Some(d) = q.done {
                filters.push(("done = ?", vec![P::Boolean(d)]));
            }
            let rows = db.read(|tx| wire::list(tx, "tasks", &columns(), filters, q))?;
            Ok(json(200, wire::page(&rows, q.limit)))
        }
        Op::Create => {
            let new: NewTask = wire::body(body)?;
            let params = [
                P::Uuid(project(&new.project_id)?),
                P::Str(title(&new.title)?),
                P::Str(description(&new.description)?),
                P::Boolean(new.done),
            ];
            // A project of another tenant fails the (tenant_id, project_id) foreign key:
            // 404, the same as a project that does not exist.
            let rows = db.write(|tx| {
                tx.query(
                    &format!(
                        "INSERT INTO tasks (project_id, title, description, done) VALUES ($1, $2, $3, $4) \
                         RETURNING {}",
                        columns()
                    ),
                    &params,
                )
            })?;
            one(201, &rows, "task")
        }
        Op::Get(id) => {
            let rows = db.read(|tx| {
                tx.query(
                    &format!("SELECT {} FROM tasks WHERE id = $1", columns()),
                    &[P::Uuid(id.clone())],
                )
            })?;
            one(200, &rows, "task")
        }
        Op::Update(id) => {
            let patch: TaskPatch = wire::body(body)?;
            let params = [
                P::Uuid(id.clone()),
                patch
                    .title
                    .as_deref()
                    .map(title)
                    .transpose()?
                    .map_or(P::DbNull, P::Str),
                patch
                    .description
                    .as_deref()
                    .map(description)
                    .transpose()?
                    .map_or(P::DbNull, P::Str),
                patch.done.map_or(P::DbNull, P::Boolean),
                patch
                    .project_id
                    .as_deref()
                    .map(project)
                    .transpose()?
                    .map_or(P::DbNull, P::Uuid),
            ];
            let rows = db.write(|tx| {
                tx.query(
                    &format!(
                        "UPDATE tasks SET title = coalesce($2, title), description = coalesce($3, description), \
                         done = coalesce($4, done), project_id = coalesce($5, project_id) \
                         WHERE id = $1 RETURNING {}",
                        columns()
                    ),
                    &params,
                )
            })?;
            one(200, &rows, "task")
        }
        Op::Delete(id) => {
            let n = db.write(|tx| {
                tx.execute("DELETE FROM tasks WHERE id = $1", &[P::Uuid(id.clone())])
            })?;
            gone(n, "task")
        }
    }
}
