//! `/api/platform/tenants/{slug}/break-glass[/{id}]`: a platform admin's time-boxed access to
//! a tenant (read-only unless stated), its list and its revocation. The functions of migration
//! 0013 check the reason, the duration and the tenant's status, and write
//! `platform.break_glass.granted` / `.revoked` to the tenant's own audit log.

use serde::Deserialize;
use spin_sdk::http::Response;
use tenant_db::ParameterValue as P;

use crate::wire::{self, ts, Call};
use crate::ApiError;

/// A sub-query: the context tenant's grants as a JSON array, newest first.
pub fn list_sql() -> String {
    format!(
        "SELECT coalesce(json_agg(json_build_object('id', g.id, 'admin_id', g.admin_id, \
                    'admin_label', g.admin_label, 'reason', g.reason, 'read_only', g.read_only, \
                    'created_at', {}, 'expires_at', {}, 'revoked_at', {}, 'active', g.active) \
                  ORDER BY g.created_at DESC, g.id), '[]'::json) \
           FROM tenantgate.platform_break_glass_list() AS g",
        ts("g.created_at"),
        ts("g.expires_at"),
        ts("g.revoked_at")
    )
}

/// `GET /api/platform/tenants/{slug}/break-glass`: `{"break_glass": [...]}`.
pub fn list(call: &Call) -> Result<Response, ApiError> {
    let sql = format!(
        "SELECT json_build_object('break_glass', ({}))::text AS item",
        list_sql()
    );
    let rows = call.read(|tx| tx.query(&sql, &[]))?;
    crate::wire::one(&rows, "tenant")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewGrant {
    reason: Option<String>,
    write: Option<bool>,
    minutes: Option<i64>,
}

/// `POST /api/platform/tenants/{slug}/break-glass` `{"reason", "write"?, "minutes"?}`: 201
/// `{"id", "expires_at", "read_only", "reason", "admin_label"}`.
pub fn grant(call: &Call) -> Result<Response, ApiError> {
    let new: NewGrant = wire::body(call.body)?;
    // Out of the int range is out of 1..=240 too; the function says so in its words.
    let minutes = match new.minutes {
        None => P::DbNull,
        Some(m) => P::Int32(i32::try_from(m).unwrap_or(i32::MAX)),
    };
    let reason = new.reason.map_or(P::DbNull, P::Str);
    let label = Some(call.admin_label.clone())
        .filter(|l| !l.is_empty())
        .map_or(P::DbNull, P::Str);
    let rows = call.write(|tx| {
        tx.query(
            &format!(
                "SELECT json_build_object('id', g.id, 'expires_at', {}, 'read_only', g.read_only, \
                                          'reason', btrim($1), 'admin_label', $4::text)::text AS item \
                   FROM tenantgate.platform_break_glass_grant($1, $2, $3, $4, $5::text::inet) AS g",
                ts("g.expires_at")
            ),
            &[
                reason,
                new.write.map_or(P::DbNull, P::Boolean),
                minutes,
                label,
                call.addr(),
            ],
        )
    })?;
    let item = rows
        .rows()
        .next()
        .and_then(|r| r.get::<String>("item"))
        .ok_or(ApiError::NotFound("tenant"))?;
    Ok(wire::json(201, item))
}

/// `DELETE /api/platform/tenants/{slug}/break-glass/{id}`: `{"id", "revoked": true}`; 404 for
/// a grant that is not this tenant's.
pub fn revoke(call: &Call, id: &str) -> Result<Response, ApiError> {
    let rows = call.write(|tx| {
        tx.query(
            "SELECT json_build_object('id', tenantgate.platform_break_glass_revoke($1::text::uuid, \
                                                                                 $2::text::inet), \
                                      'revoked', true)::text AS item",
            &[P::Str(id.to_owned()), call.addr()],
        )
    })?;
    crate::wire::one(&rows, "grant")
}
