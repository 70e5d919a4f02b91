//! `/auth/switch` and `/auth/switch/complete`: moving a signed-in user to another of their
//! organisations without a new login (the protocol is in `gateway_core::sso::switch`; the
//! rules, membership and the target's SSO policy, are the directory's `switch_begin` and
//! `switch_redeem`).

use gateway_core::decision::Response;
use gateway_core::prelude::*;
use gateway_core::sso::session::SessionConfig;
use gateway_core::sso::switch::{self, TICKET_TTL_SECS};
use gateway_core::sso::{login_location, AuthRequest, SsoError};
use spin_sdk::pg4::ParameterValue;

use crate::ports::PgDirectory;
use crate::sso::{key, no_session, random_token, redirect, signed_in_redirect, unavailable};

/// `POST /auth/switch` on the current organisation: a ticket for the target and a redirect
/// to it (or to its login page when it enforces SSO).
pub fn begin(
    auth: &AuthRequest,
    body: Option<&[u8]>,
    directory: &PgDirectory,
    sessions: &SessionConfig,
) -> Result<Response, SsoError> {
    let Some(session) = &auth.session else {
        return Ok(no_session(auth));
    };
    let form = switch::parse_form(body.ok_or(SsoError::Malformed)?)?;
    let key = key(sessions)?;
    let ticket = random_token()?;
    let row = directory
        .one(
            "SELECT s.outcome FROM (VALUES (1)) AS one (x) LEFT JOIN \
             tenantgate.switch_begin($1::uuid, $2::uuid, $3, $4, $5, $6) AS s ON true",
            &[
                ParameterValue::Uuid(auth.tenant.id.to_string()),
                ParameterValue::Uuid(session.sid.to_string()),
                ParameterValue::Str(form.to.as_str().to_owned()),
                ParameterValue::Binary(key.keyed_hash("switch", &ticket).to_vec()),
                ParameterValue::Str(form.return_to.clone()),
                ParameterValue::Int32(TICKET_TTL_SECS as i32),
            ],
        )
        .map_err(SsoError::from)?;
    let target = switch::tenant_origin(&auth.origin, &auth.apex, &form.to);
    match row.first().cloned().flatten().as_deref() {
        Some("ok") => Ok(redirect(&switch::complete_url(&target, &ticket), &[])),
        Some("sso_required") => Ok(redirect(&switch::login_url(&target, &form.return_to), &[])),
        Some("not_a_member") => Err(SsoError::NotAMember),
        Some("session_invalid") => Ok(no_session(auth)),
        other => Err(unavailable(format!("switch_begin answered {other:?}"))),
    }
}

/// `GET /auth/switch/complete?ticket=` on the target: the ticket for a session here.
pub fn complete(
    auth: &AuthRequest,
    directory: &PgDirectory,
    sessions: &SessionConfig,
    now: UnixMillis,
) -> Result<Response, SsoError> {
    let ticket = switch::ticket(&auth.query)?;
    let key = key(sessions)?;
    let row = directory
        .one(
            "SELECT r.outcome, r.session_id::text, r.return_to FROM (VALUES (1)) AS one (x) \
             LEFT JOIN tenantgate.switch_redeem($1::uuid, $2, $3) AS r ON true",
            &[
                ParameterValue::Uuid(auth.tenant.id.to_string()),
                ParameterValue::Binary(key.keyed_hash("switch", &ticket).to_vec()),
                ParameterValue::Int32(sessions.session_ttl_secs.min(i32::MAX as u64) as i32),
            ],
        )
        .map_err(SsoError::from)?;
    let text = |i: usize| row.get(i).cloned().flatten();
    let return_to = text(2).unwrap_or_else(|| switch::DEFAULT_LANDING.to_owned());
    match text(0).as_deref() {
        Some("ok") => {
            let sid = text(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| unavailable("switch_redeem: no session id"))?;
            Ok(signed_in_redirect(
                auth, sessions, key, sid, &return_to, now,
            ))
        }
        Some("sso_required") => Ok(redirect(&login_location(&return_to), &[])),
        Some("invalid") => Err(SsoError::SwitchInvalid),
        other => Err(unavailable(format!("switch_redeem answered {other:?}"))),
    }
}
