//! `/api/org/members`: who belongs to the tenant, and their roles.

use serde::Deserialize;
use spin_sdk::http::Response;
use tenant_db::{ParameterValue as P, Tx};

use crate::wire::{self, ts, Call, Filter};
use crate::ApiError;

/// The member as the API shows it, built by Postgres (RLS: this tenant's memberships; the
/// users policy: this tenant's members).
fn item_sql() -> String {
    format!(
        "json_build_object('user_id', m.user_id, 'email', u.email, 'display_name', u.display_name, \
                           'role', m.role_name, 'joined_at', {})::text AS item, \
         {} AS k_ts, m.user_id::text AS k_key \
         FROM tenantgate.memberships AS m JOIN tenantgate.users AS u ON u.id = m.user_id",
        ts("m.created_at"),
        ts("m.created_at")
    )
}

fn member(tx: &Tx, user_id: &str) -> Result<tenant_db::RowSet, tenant_db::DbError> {
    tx.query(
        &format!("SELECT {} WHERE m.user_id = $1::text::uuid", item_sql()),
        &[P::Str(user_id.to_owned())],
    )
}

/// `GET /api/org/members?limit=&after=`: in joining order.
pub fn list(call: &Call) -> Result<Response, ApiError> {
    let page = call.params()?.page()?;
    let mut f = Filter::default();
    if let Some((t, k)) = &page.after {
        f.and(
            "(m.created_at, m.user_id) > (?::text::timestamptz, ?::text::uuid)",
            vec![P::Str(t.clone()), P::Str(k.clone())],
        );
    }
    let limit = f.limit(page.limit);
    let sql = format!(
        "SELECT {} {} ORDER BY m.created_at, m.user_id LIMIT {limit}",
        item_sql(),
        f.sql()
    );
    let rows = call.read(|tx| tx.query(&sql, &f.params))?;
    Ok(wire::json(200, wire::page(&rows, page.limit)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberPatch {
    role: String,
}

/// `PATCH /api/org/members/{user_id}` `{"role"}`: the member with the new role.
pub fn update(call: &Call, user_id: &str) -> Result<Response, ApiError> {
    let patch: MemberPatch = wire::body(call.body)?;
    let rows = call.write(|tx| {
        tx.query(
            "SELECT tenantgate.set_member_role($1::text::uuid, $2, $3::text::inet) AS role",
            &[
                P::Str(user_id.to_owned()),
                P::Str(patch.role.clone()),
                call.addr(),
            ],
        )?;
        member(tx, user_id)
    })?;
    Ok(wire::json(200, wire::one(&rows, "member")?))
}

/// `DELETE /api/org/members/{user_id}`: removes the member (or the caller leaves); their
/// sessions on this tenant end.
pub fn remove(call: &Call, user_id: &str) -> Result<Response, ApiError> {
    call.write(|tx| {
        tx.query(
            "SELECT tenantgate.remove_member($1::text::uuid, $2::text::inet) AS outcome",
            &[P::Str(user_id.to_owned()), call.addr()],
        )
    })?;
    Ok(wire::no_content())
}
