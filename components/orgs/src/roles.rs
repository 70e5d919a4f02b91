//! `/api/org/roles`: system and custom roles with their permissions.

use serde::Deserialize;
use spin_sdk::http::Response;
use tenant_db::{DbError, ParameterValue as P, RowSet, Tx};

use crate::wire::{self, Call, Filter};
use crate::ApiError;

fn item_sql() -> &'static str {
    "json_build_object('name', r.name, 'built_in', r.built_in, 'description', r.description, \
        'permissions', coalesce((SELECT json_agg(rp.permission ORDER BY rp.permission) \
                                   FROM tenantgate.role_permissions AS rp \
                                  WHERE rp.tenant_id = r.tenant_id AND rp.role_name = r.name), '[]'::json), \
        'members', (SELECT count(*) FROM tenantgate.memberships AS m \
                     WHERE m.tenant_id = r.tenant_id AND m.role_name = r.name))::text AS item, \
     '' AS k_ts, r.name AS k_key FROM tenantgate.roles AS r"
}

fn role(tx: &Tx, name: &str) -> Result<RowSet, DbError> {
    tx.query(
        &format!("SELECT {} WHERE r.name = $1", item_sql()),
        &[P::Str(name.to_owned())],
    )
}

/// `GET /api/org/roles?limit=&after=`: by name.
pub fn list(call: &Call) -> Result<Response, ApiError> {
    let page = call.params()?.page()?;
    let mut f = Filter::default();
    if let Some((_, k)) = &page.after {
        f.and("r.name > ?", vec![P::Str(k.clone())]);
    }
    let limit = f.limit(page.limit);
    let sql = format!(
        "SELECT {} {} ORDER BY r.name LIMIT {limit}",
        item_sql(),
        f.sql()
    );
    let rows = call.read(|tx| tx.query(&sql, &f.params))?;
    Ok(wire::json(200, wire::page(&rows, page.limit)))
}

/// A permission list as the functions take it (a JSON array, unpacked in SQL).
fn perms(p: &Option<Vec<String>>) -> P {
    p.as_ref().map_or(P::DbNull, |p| {
        P::Str(serde_json::to_string(p).expect("strings serialise"))
    })
}

const PERMS_SQL: &str =
    "(SELECT array_agg(x) FROM jsonb_array_elements_text($3::text::jsonb) AS x)";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRole {
    name: String,
    #[serde(default)]
    description: Option<String>,
    permissions: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RolePatch {
    description: Option<String>,
    permissions: Option<Vec<String>>,
}

/// `POST /api/org/roles` `{"name","description","permissions"}`: 201.
pub fn create(call: &Call) -> Result<Response, ApiError> {
    let new: NewRole = wire::body(call.body)?;
    let permissions = Some(new.permissions);
    let rows = call.write(|tx| {
        tx.query(
            &format!(
                "SELECT tenantgate.create_role($1, $2, coalesce({PERMS_SQL}, '{{}}'), $4::text::inet) AS name"
            ),
            &[
                P::Str(new.name.clone()),
                new.description.clone().map_or(P::DbNull, P::Str),
                perms(&permissions),
                call.addr(),
            ],
        )?;
        role(tx, &new.name)
    })?;
    Ok(wire::json(201, wire::one(&rows, "role")?))
}

/// `PATCH /api/org/roles/{name}` `{"description"?,"permissions"?}`: the role.
pub fn update(call: &Call, name: &str) -> Result<Response, ApiError> {
    let patch: RolePatch = wire::body(call.body)?;
    let rows = call.write(|tx| {
        tx.query(
            &format!(
                "SELECT tenantgate.update_role($1, $2, \
                   CASE WHEN $3::text IS NULL THEN NULL ELSE coalesce({PERMS_SQL}, '{{}}') END, \
                   $4::text::inet) AS name"
            ),
            &[
                P::Str(name.to_owned()),
                patch.description.clone().map_or(P::DbNull, P::Str),
                perms(&patch.permissions),
                call.addr(),
            ],
        )?;
        role(tx, name)
    })?;
    Ok(wire::json(200, wire::one(&rows, "role")?))
}

/// `DELETE /api/org/roles/{name}`: 204.
pub fn delete(call: &Call, name: &str) -> Result<Response, ApiError> {
    call.write(|tx| {
        tx.query(
            "SELECT tenantgate.delete_role($1, $2::text::inet) AS name",
            &[P::Str(name.to_owned()), call.addr()],
        )
    })?;
    Ok(wire::no_content())
}
