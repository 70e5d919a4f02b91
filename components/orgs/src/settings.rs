//! `/api/org/domains`, `/api/org/sso`, `/api/org/usage`: the tenant's settings.

use serde::Deserialize;
use spin_sdk::http::Response;
use tenant_db::{DbError, ParameterValue as P, RowSet, Tx};

use crate::wire::{self, ts, Call, Filter};
use crate::ApiError;

/// The DNS label the verification TXT record goes under (the control plane's verifier,
/// `control/src/domains`).
const TXT_LABEL: &str = "_tenantgate";

fn domain_sql() -> String {
    format!(
        "json_build_object('domain', d.domain, \
            'status', CASE WHEN d.revoked_at IS NOT NULL THEN 'revoked' \
                           WHEN d.verified_at IS NOT NULL THEN 'verified' ELSE 'pending' END, \
            'txt_name', '{TXT_LABEL}.' || d.domain, 'txt_value', d.verification_token, \
            'created_at', {}, 'verified_at', {})::text AS item, \
         '' AS k_ts, d.domain AS k_key FROM tenantgate.tenant_domains AS d",
        ts("d.created_at"),
        ts("d.verified_at")
    )
}

fn domain(tx: &Tx, name: &str) -> Result<RowSet, DbError> {
    tx.query(
        &format!("SELECT {} WHERE d.domain = $1", domain_sql()),
        &[P::Str(name.to_owned())],
    )
}

/// `GET /api/org/domains?limit=&after=`: by domain, revoked ones included.
pub fn domains(call: &Call) -> Result<Response, ApiError> {
    let page = call.params()?.page()?;
    let mut f = Filter::default();
    if let Some((_, k)) = &page.after {
        f.and("d.domain > ?", vec![P::Str(k.clone())]);
    }
    let limit = f.limit(page.limit);
    let sql = format!(
        "SELECT {} {} ORDER BY d.domain LIMIT {limit}",
        domain_sql(),
        f.sql()
    );
    let rows = call.read(|tx| tx.query(&sql, &f.params))?;
    Ok(wire::json(200, wire::page(&rows, page.limit)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewDomain {
    domain: String,
}

/// `POST /api/org/domains` `{"domain"}`: 201, the pending claim and its TXT record.
pub fn add_domain(call: &Call) -> Result<Response, ApiError> {
    let new: NewDomain = wire::body(call.body)?;
    let rows = call.write(|tx| {
        let added = tx.query(
            "SELECT tenantgate.add_domain($1, $2::text::inet) AS domain",
            &[P::Str(new.domain.clone()), call.addr()],
        )?;
        domain(tx, &wire::texts(&added, "domain").pop().unwrap_or_default())
    })?;
    Ok(wire::json(201, wire::one(&rows, "domain")?))
}

/// `DELETE /api/org/domains/{domain}`: revokes the claim (it stops routing within the
/// gateway's cache bound); 204.
pub fn remove_domain(call: &Call, name: &str) -> Result<Response, ApiError> {
    call.write(|tx| {
        tx.query(
            "SELECT tenantgate.remove_domain($1, $2::text::inet) AS domain",
            &[P::Str(name.to_owned()), call.addr()],
        )
    })?;
    Ok(wire::no_content())
}

const SSO_SQL: &str = "SELECT json_build_object('kind', s.kind, 'issuer', s.issuer, 'entity_id', s.entity_id, \
        'client_id', s.client_id, 'enforced', s.enforced, 'jit', s.jit, 'default_role', s.default_role, \
        'allowed_email_domains', to_json(s.allowed_email_domains), \
        'keys_refreshed_at', to_char(s.keys_refreshed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), \
        'refresh_error', s.refresh_error)::text AS item FROM tenantgate.sso_settings() AS s";

/// `{"provider": ... | null, "sp": {...}}`: never the client secret.
fn sso_body(call: &Call, rows: &RowSet) -> Vec<u8> {
    let provider = wire::texts(rows, "item")
        .pop()
        .unwrap_or_else(|| "null".into());
    let o = &call.origin;
    let sp = serde_json::json!({
        "redirect_uri": format!("{o}/auth/oidc/callback"),
        "acs_url": format!("{o}/auth/saml/acs"),
        "entity_id": format!("{o}/auth/saml/metadata"),
        "metadata_url": format!("{o}/auth/saml/metadata"),
    });
    format!("{{\"provider\":{provider},\"sp\":{sp}}}").into_bytes()
}

/// `GET /api/org/sso`.
pub fn sso(call: &Call) -> Result<Response, ApiError> {
    let rows = call.read(|tx| tx.query(SSO_SQL, &[]))?;
    Ok(wire::json(200, sso_body(call, &rows)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SsoPatch {
    enforced: Option<bool>,
    jit: Option<bool>,
    default_role: Option<String>,
    allowed_email_domains: Option<Vec<String>>,
}

/// `PATCH /api/org/sso` `{"enforced"?,"jit"?,"default_role"?,"allowed_email_domains"?}`: the
/// provider (the gateway reads it within its tenant cache's bound).
pub fn update_sso(call: &Call) -> Result<Response, ApiError> {
    let p: SsoPatch = wire::body(call.body)?;
    let b = |v: Option<bool>| v.map_or(P::DbNull, P::Boolean);
    let domains = p.allowed_email_domains.as_ref().map_or(P::DbNull, |d| {
        P::Str(serde_json::to_string(d).expect("strings serialise"))
    });
    let rows = call.write(|tx| {
        tx.query(
            "SELECT tenantgate.update_sso($1, $2, $3, \
               CASE WHEN $4::text IS NULL THEN NULL ELSE coalesce( \
                 (SELECT array_agg(x) FROM jsonb_array_elements_text($4::text::jsonb) AS x), '{}') END, \
               $5::text::inet) AS done",
            &[b(p.enforced), b(p.jit), p.default_role.clone().map_or(P::DbNull, P::Str), domains, call.addr()],
        )?;
        tx.query(SSO_SQL, &[])
    })?;
    Ok(wire::json(200, wire::one(&rows, "provider")?))
}

/// `GET /api/org/usage?days=1..90` (default 30): requests per UTC day (by route class,
/// anonymous, rate limited), this month's signed-in requests and the monthly quota.
pub fn usage(call: &Call) -> Result<Response, ApiError> {
    let params = call.params()?;
    let days: i32 = match params.get("days") {
        None => 30,
        Some(d) => d
            .parse()
            .ok()
            .filter(|d| (1..=90).contains(d))
            .ok_or_else(|| ApiError::BadRequest("days must be 1 to 90".into()))?,
    };
    let mut f = Filter::default();
    f.and(
        "u.day > (statement_timestamp() AT TIME ZONE 'UTC')::date - ?::int",
        vec![P::Int32(days)],
    );
    let sql = format!(
        "SELECT json_build_object( \
           'days', coalesce((SELECT json_agg(d ORDER BY d.day) FROM ( \
               SELECT to_char(u.day, 'YYYY-MM-DD') AS day, sum(u.requests)::bigint AS requests, \
                      coalesce(sum(u.requests) FILTER (WHERE u.route_class = 'read'), 0)::bigint AS read, \
                      coalesce(sum(u.requests) FILTER (WHERE u.route_class = 'write'), 0)::bigint AS write, \
                      coalesce(sum(u.requests) FILTER (WHERE u.route_class = 'auth'), 0)::bigint AS auth, \
                      coalesce(sum(u.requests) FILTER (WHERE u.audience = 'anonymous'), 0)::bigint AS anonymous, \
                      coalesce(sum(u.requests) FILTER (WHERE u.status_family = '429'), 0)::bigint AS rate_limited \
                 FROM tenantgate.usage_daily AS u {} GROUP BY u.day) AS d), '[]'::json), \
           'month_to_date', q.month_to_date, 'monthly_quota', q.monthly_quota)::text AS item \
         FROM tenantgate.usage_quota() AS q",
        f.sql()
    );
    let rows = call.read(|tx| tx.query(&sql, &f.params))?;
    Ok(wire::json(200, wire::one(&rows, "usage")?))
}
