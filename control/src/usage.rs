//! Usage (`tenantgate usage SLUG`): requests per day, route class, status family and audience,
//! as the gateway flushed them (README "Rate limits"). The rows are what the admin API will
//! serve; the CLI prints them as a table, JSON or CSV.

use serde::Serialize;
use tokio_postgres::Client;

use crate::error::{Error, Result};
use crate::report::Doing as _;

/// One row: a day, route class, status family (`2xx`, ..., `429`) and audience.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageRow {
    /// UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// `read`, `write` or `auth`.
    pub route_class: String,
    /// `1xx` ... `5xx`, or `429`.
    pub status_family: String,
    /// `user` (signed in) or `anonymous`.
    pub audience: String,
    /// Requests.
    pub requests: i64,
}

/// Checks a `YYYY-MM-DD` date.
pub fn check_date(text: &str) -> Result<String> {
    let ok = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if ok {
        Ok(text.to_owned())
    } else {
        Err(Error::InvalidLimits(format!(
            "{text:?}: dates are YYYY-MM-DD"
        )))
    }
}

/// The tenant's usage from `from` to `to` (inclusive; default: this UTC month up to today).
pub async fn usage(
    control: &Client,
    slug: &str,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Vec<UsageRow>> {
    let from = from.map(check_date).transpose()?;
    let to = to.map(check_date).transpose()?;
    let id: uuid::Uuid = control
        .query_opt(
            "SELECT id FROM tenantgate.tenants WHERE slug = $1",
            &[&slug],
        )
        .await
        .doing(format_args!("reading tenant {slug:?}"))?
        .map(|r| r.get(0))
        .ok_or_else(|| Error::UnknownTenant {
            slug: slug.to_owned(),
        })?;
    let rows = control
        .query(
            "SELECT to_char(day, 'YYYY-MM-DD'), route_class, status_family, audience, requests \
             FROM tenantgate.usage_daily \
             WHERE tenant_id = $1 \
               AND day >= COALESCE($2::text::date, date_trunc('month', now() AT TIME ZONE 'UTC')::date) \
               AND day <= COALESCE($3::text::date, (now() AT TIME ZONE 'UTC')::date) \
             ORDER BY day, route_class, status_family, audience",
            &[&id, &from, &to],
        )
        .await
        .doing("reading usage (is the date valid?)")?;
    Ok(rows
        .iter()
        .map(|r| UsageRow {
            day: r.get(0),
            route_class: r.get(1),
            status_family: r.get(2),
            audience: r.get(3),
            requests: r.get(4),
        })
        .collect())
}

/// The rows as CSV with a header line.
pub fn csv(rows: &[UsageRow]) -> String {
    let mut out = String::from("day,route_class,status_family,audience,requests\n");
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{}\n",
            r.day, r.route_class, r.status_family, r.audience, r.requests
        ));
    }
    out
}
