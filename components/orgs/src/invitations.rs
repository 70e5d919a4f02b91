//! `/api/org/invitations`: invite by email with a role; the token is shown once.

use serde::Deserialize;
use spin_sdk::http::Response;
use tenant_db::{DbError, ParameterValue as P, RowSet, Tx};

use crate::wire::{self, ts, Call, Filter};
use crate::ApiError;

/// An invitation's status, in SQL.
const STATUS: &str = "CASE WHEN i.accepted_at IS NOT NULL THEN 'accepted' \
                           WHEN i.revoked_at IS NOT NULL THEN 'revoked' \
                           WHEN i.expires_at <= statement_timestamp() THEN 'expired' \
                           ELSE 'pending' END";

/// The invitation as the API shows it (never the token or its hash). `invited_by` is the
/// inviter's email while they are a member, else their user id.
fn item_sql() -> String {
    format!(
        "json_build_object('id', i.id, 'email', i.email, 'role', i.role_name, 'status', {STATUS}, \
                           'created_at', {}, 'expires_at', {}, \
                           'invited_by', coalesce(u.email, i.invited_by_user_id::text))::text AS item, \
         {} AS k_ts, i.id::text AS k_key \
         FROM tenantgate.invitations AS i LEFT JOIN tenantgate.users AS u ON u.id = i.invited_by_user_id",
        ts("i.created_at"),
        ts("i.expires_at"),
        ts("i.created_at")
    )
}

fn invitation(tx: &Tx, id: &str) -> Result<RowSet, DbError> {
    tx.query(
        &format!("SELECT {} WHERE i.id = $1::text::uuid", item_sql()),
        &[P::Str(id.to_owned())],
    )
}

/// `GET /api/org/invitations?status=&limit=&after=`: in creation order.
pub fn list(call: &Call) -> Result<Response, ApiError> {
    let params = call.params()?;
    let page = params.page()?;
    let mut f = Filter::default();
    if let Some(status) = params.get("status") {
        if !["pending", "accepted", "revoked", "expired"].contains(&status) {
            return Err(ApiError::BadRequest(
                "status must be pending, accepted, revoked or expired".into(),
            ));
        }
        f.and(&format!("{STATUS} = ?"), vec![P::Str(status.to_owned())]);
    }
    if let Some((t, k)) = &page.after {
        f.and(
            "(i.created_at, i.id) > (?::text::timestamptz, ?::text::uuid)",
            vec![P::Str(t.clone()), P::Str(k.clone())],
        );
    }
    let limit = f.limit(page.limit);
    let sql = format!(
        "SELECT {} {} ORDER BY i.created_at, i.id LIMIT {limit}",
        item_sql(),
        f.sql()
    );
    let rows = call.read(|tx| tx.query(&sql, &f.params))?;
    Ok(wire::json(200, wire::page(&rows, page.limit)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewInvitation {
    email: String,
    role: String,
    expires_in_days: Option<i32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Resend {
    expires_in_days: Option<i32>,
}

/// `{"invitation": {...}, "token", "accept_url"}`: the only time the token is shown.
fn with_token(status: u16, rows: &RowSet, token: &str) -> Result<Response, ApiError> {
    let inv = wire::one(rows, "invitation")?;
    let body = format!(
        "{{\"invitation\":{inv},\"token\":{},\"accept_url\":{}}}",
        serde_json::Value::String(token.to_owned()),
        serde_json::Value::String(format!("/admin/accept?token={token}"))
    );
    Ok(wire::json(status, body))
}

fn days(d: Option<i32>) -> P {
    d.map_or(P::DbNull, P::Int32)
}

/// `POST /api/org/invitations` `{"email","role","expires_in_days"?}`: 201.
pub fn create(call: &Call) -> Result<Response, ApiError> {
    let new: NewInvitation = wire::body(call.body)?;
    let (rows, token) = call.write(|tx| {
        let made = tx.query(
            "SELECT invitation_id::text AS id, token FROM \
             tenantgate.create_invitation($1, $2, $3, $4::text::inet)",
            &[
                P::Str(new.email.clone()),
                P::Str(new.role.clone()),
                days(new.expires_in_days),
                call.addr(),
            ],
        )?;
        let id = wire::texts(&made, "id").pop().unwrap_or_default();
        let token = wire::texts(&made, "token").pop().unwrap_or_default();
        Ok((invitation(tx, &id)?, token))
    })?;
    with_token(201, &rows, &token)
}

/// `POST /api/org/invitations/{id}/resend` `{"expires_in_days"?}`: a new token and expiry.
pub fn resend(call: &Call, id: &str) -> Result<Response, ApiError> {
    let r: Resend = if call.body.iter().all(u8::is_ascii_whitespace) {
        Resend::default()
    } else {
        wire::body(call.body)?
    };
    let (rows, token) = call.write(|tx| {
        let made = tx.query(
            "SELECT token FROM tenantgate.resend_invitation($1::text::uuid, $2, $3::text::inet)",
            &[P::Str(id.to_owned()), days(r.expires_in_days), call.addr()],
        )?;
        let token = wire::texts(&made, "token").pop().unwrap_or_default();
        Ok((invitation(tx, id)?, token))
    })?;
    with_token(200, &rows, &token)
}

/// `POST /api/org/invitations/{id}/revoke`: the revoked invitation.
pub fn revoke(call: &Call, id: &str) -> Result<Response, ApiError> {
    let rows = call.write(|tx| {
        tx.query(
            "SELECT tenantgate.revoke_invitation($1::text::uuid, $2::text::inet)::text AS id",
            &[P::Str(id.to_owned()), call.addr()],
        )?;
        invitation(tx, id)
    })?;
    Ok(wire::json(200, wire::one(&rows, "invitation")?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Accept {
    token: String,
}

/// `POST /api/org/invitations/accept` `{"token"}`: the signed-in user joins; `{"role"}`.
pub fn accept(call: &Call) -> Result<Response, ApiError> {
    let a: Accept = wire::body(call.body)?;
    if a.token.len() > 200 {
        return Err(ApiError::BadRequest("token is too long".into()));
    }
    let rows = call.write(|tx| {
        tx.query(
            "SELECT json_build_object('role', tenantgate.accept_invitation($1, $2::text::inet))::text AS item",
            &[P::Str(a.token.clone()), call.addr()],
        )
    })?;
    Ok(wire::json(200, wire::one(&rows, "invitation")?))
}
