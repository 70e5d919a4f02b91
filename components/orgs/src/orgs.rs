//! `/api/org/me`, `/api/org/permissions`, `/api/org/organisations`: who is signed in, the
//! permission catalogue, the switcher's list and self-serve creation.

use serde::Deserialize;
use spin_sdk::http::Response;
use tenant_db::ParameterValue as P;

use crate::wire::{self, Call, Filter};
use crate::ApiError;

/// `GET /api/org/me`: the user, the tenant, the user's role here (null when the context
/// names a user who is not a member, e.g. a bearer token) and the context's permissions.
pub fn me(call: &Call) -> Result<Response, ApiError> {
    let perms: Vec<&str> = call
        .db
        .context()
        .claims()
        .perms
        .iter()
        .map(|p| p.as_str())
        .collect();
    let rows = call.read(|tx| {
        tx.query(
            "SELECT json_build_object( \
               'user', (SELECT json_build_object('id', u.id, 'email', u.email, 'display_name', u.display_name) \
                          FROM tenantgate.users AS u WHERE u.id = tenantgate.current_user_id()), \
               'tenant', (SELECT json_build_object('id', t.id, 'slug', t.slug, 'name', t.name, \
                                                   'plan', t.plan, 'status', t.status) \
                            FROM tenantgate.current_tenant() AS t), \
               'role', (SELECT m.role_name FROM tenantgate.memberships AS m \
                         WHERE m.user_id = tenantgate.current_user_id()), \
               'permissions', $1::text::json)::text AS item",
            &[P::Str(serde_json::to_string(&perms).expect("strings serialise"))],
        )
    })?;
    Ok(wire::json(200, wire::one(&rows, "user")?))
}

/// `GET /api/org/permissions`: the catalogue (what custom roles may hold).
pub fn permissions(call: &Call) -> Result<Response, ApiError> {
    let rows = call.read(|tx| {
        tx.query(
            "SELECT json_build_object('permission', p.permission, 'component', p.component, \
                                      'description', p.description)::text AS item \
               FROM tenantgate.permissions AS p ORDER BY p.permission",
            &[],
        )
    })?;
    let items = wire::texts(&rows, "item");
    Ok(wire::json(
        200,
        format!("{{\"items\":[{}],\"next\":null}}", items.join(",")),
    ))
}

/// `GET /api/org/organisations?limit=&after=`: the signed-in user's active organisations
/// (slug, name, role, status, sso mode, current), by slug.
pub fn list(call: &Call) -> Result<Response, ApiError> {
    let page = call.params()?.page()?;
    let mut f = Filter::default();
    if let Some((_, k)) = &page.after {
        f.and("o.slug > ?", vec![P::Str(k.clone())]);
    }
    let limit = f.limit(page.limit);
    let sql = format!(
        "SELECT json_build_object('slug', o.slug, 'name', o.name, 'role', o.role, 'status', o.status, \
                                  'sso', o.sso, 'current', o.is_current)::text AS item, \
                '' AS k_ts, o.slug AS k_key \
           FROM tenantgate.my_organisations() AS o {} ORDER BY o.slug LIMIT {limit}",
        f.sql()
    );
    let rows = call.read(|tx| tx.query(&sql, &f.params))?;
    Ok(wire::json(200, wire::page(&rows, page.limit)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewOrganisation {
    slug: String,
    name: String,
}

/// `POST /api/org/organisations` `{"slug","name"}`: 201 `{"slug","name","url_path"}`; the
/// creator is its owner. Switch to it with a form `POST /auth/switch` (`to=<slug>`).
pub fn create(call: &Call) -> Result<Response, ApiError> {
    let new: NewOrganisation = wire::body(call.body)?;
    if new.slug.len() > 63 {
        return Err(ApiError::Refused(
            400,
            tenant_contract::ErrorCode::SlugInvalid,
            "slug must be 3 to 63 characters".into(),
        ));
    }
    call.write(|tx| {
        tx.query(
            "SELECT tenantgate.create_organisation($1, $2, $3::text::inet)::text AS id",
            &[
                P::Str(new.slug.clone()),
                P::Str(new.name.clone()),
                call.addr(),
            ],
        )
    })?;
    let body = serde_json::json!({
        "slug": new.slug,
        "name": new.name.trim(),
        "url_path": "/auth/switch",
    });
    Ok(wire::json(201, body.to_string()))
}
