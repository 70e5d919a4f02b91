//! `/api/platform/me` and `/api/platform/tenants[/{slug}[/{action}]]`: who the admin is, the
//! tenant list, one tenant with its break-glass grants, and the lifecycle actions.
//!
//! Every statement is a call to a `tenantgate.platform_*` function of migration 0013, which
//! checks the context's `platform.admin` again and, for actions, writes the audit row in the
//! tenant's own log in the same transaction.

use serde::Deserialize;
use spin_sdk::http::Response;
use tenant_contract::ErrorCode;
use tenant_db::ParameterValue as P;

use crate::route::Action;
use crate::wire::{self, ts, Call, Params};
use crate::{break_glass, ApiError};

/// Page size when the client names none.
pub const DEFAULT_LIMIT: i32 = 50;
/// The largest page (the SQL function clamps to the same).
pub const MAX_LIMIT: i32 = 200;
/// The longest search text (the SQL function's bound).
pub const MAX_QUERY: usize = 200;
/// The statuses a list may be filtered by.
pub const STATUSES: &[&str] = &["active", "suspended", "deleted"];

/// The JSON object of a row of the tenant shape (`platform_tenants`, `platform_tenant`,
/// `platform_lifecycle`) aliased `t`, as the pairs of `json_build_object` (so callers may add
/// more).
pub fn fields() -> String {
    format!(
        "'id', t.id, 'slug', t.slug, 'name', t.name, 'status', t.status, 'plan', t.plan, \
         'placement', t.placement, 'database_target', t.database_target, \
         'schema_name', t.schema_name, 'created_at', {}, 'suspended_at', {}, \
         'deleted_at', {}, 'purge_after', {}, 'members', t.members, \
         'requests_today', t.requests_today, 'requests_month', t.requests_month, \
         'monthly_quota', t.monthly_quota",
        ts("t.created_at"),
        ts("t.suspended_at"),
        ts("t.deleted_at"),
        ts("t.purge_after")
    )
}

/// `GET /api/platform/me`: the admin's label (for display) and user id (as Postgres read it
/// from the verified context).
pub fn me(call: &Call) -> Result<Response, ApiError> {
    let rows = call.read(|tx| {
        tx.query(
            "SELECT json_build_object('admin', $1::text, \
                                      'user_id', tenantgate.current_user_id())::text AS item",
            &[P::Str(call.admin_label.clone())],
        )
    })?;
    wire::one(&rows, "admin")
}

/// The list's query: search text, status, position and page size, validated.
#[derive(Debug, PartialEq, Eq)]
pub struct ListQuery {
    pub q: Option<String>,
    pub status: Option<String>,
    pub after: Option<String>,
    pub limit: i32,
}

impl ListQuery {
    /// Reads `q`, `status`, `after`, `limit` (400 on anything out of shape).
    pub fn parse(p: &Params) -> Result<ListQuery, ApiError> {
        let q = p.get("q").map(str::trim).filter(|q| !q.is_empty());
        if q.is_some_and(|q| q.chars().count() > MAX_QUERY) {
            return Err(ApiError::Refused(
                400,
                ErrorCode::InvalidQuery,
                format!("the search is at most {MAX_QUERY} characters"),
            ));
        }
        let status = p.get("status");
        if let Some(s) = status.filter(|s| !STATUSES.contains(s)) {
            return Err(ApiError::Refused(
                400,
                ErrorCode::InvalidStatus,
                format!("status must be active, suspended or deleted, not {s:?}"),
            ));
        }
        let after = p.get("after");
        if after.is_some_and(|a| !tenant_contract::ids::is_dns_label(a)) {
            return Err(ApiError::BadRequest(
                "after must be a tenant slug (the next of a previous page)".into(),
            ));
        }
        let limit = match p.get("limit") {
            None => DEFAULT_LIMIT,
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| ApiError::BadRequest(format!("limit must be 1 to {MAX_LIMIT}")))?,
        };
        Ok(ListQuery {
            q: q.map(str::to_owned),
            status: status.map(str::to_owned),
            after: after.map(str::to_owned),
            limit,
        })
    }
}

fn text(v: &Option<String>) -> P {
    v.clone().map_or(P::DbNull, P::Str)
}

/// `GET /api/platform/tenants?q=&status=&after=&limit=`: `{"tenants": [...], "next": slug or
/// null}`, by slug; a full page names the last slug as `next`.
pub fn list(call: &Call) -> Result<Response, ApiError> {
    let query = ListQuery::parse(&call.params()?)?;
    let sql = format!(
        "SELECT json_build_object({})::text AS item, t.slug AS k_slug \
           FROM tenantgate.platform_tenants($1, $2, $3, $4) AS t ORDER BY t.slug",
        fields()
    );
    let rows = call.read(|tx| {
        tx.query(
            &sql,
            &[
                text(&query.q),
                text(&query.status),
                text(&query.after),
                P::Int32(query.limit),
            ],
        )
    })?;
    let items: Vec<String> = rows
        .rows()
        .map(|r| r.get::<String>("item").unwrap_or_default())
        .collect();
    let next = (items.len() == query.limit as usize)
        .then(|| rows.rows().last().and_then(|r| r.get::<String>("k_slug")))
        .flatten();
    let next = serde_json::to_string(&next).expect("an optional string serialises");
    Ok(wire::json(
        200,
        format!("{{\"tenants\":[{}],\"next\":{next}}}", items.join(",")),
    ))
}

/// `GET /api/platform/tenants/{slug}`: the tenant (the context's) and its break-glass grants.
pub fn show(call: &Call) -> Result<Response, ApiError> {
    let sql = format!(
        "SELECT json_build_object({}, 'break_glass', ({}))::text AS item \
           FROM tenantgate.platform_tenant() AS t",
        fields(),
        break_glass::list_sql()
    );
    let rows = call.read(|tx| tx.query(&sql, &[]))?;
    wire::one(&rows, "tenant")
}

/// A lifecycle action's body: `{"reason"}` for suspend, `{"grace_days"}` for delete, nothing
/// for reactivate and restore (migration 0013 records a suspension's reason and a deletion's
/// grace period, nothing else, so the API takes nothing it would drop).
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct Change {
    reason: Option<String>,
    grace_days: Option<i64>,
}

impl Change {
    /// The function's `p_reason` (every action records one) and `p_grace_days` for `action`,
    /// or the 400 that refuses a field the action does not take.
    pub fn arguments(self, action: Action) -> Result<(Option<String>, Option<i32>), ApiError> {
        let days = match self.grace_days {
            Some(_) if action != Action::Delete => {
                return Err(ApiError::BadRequest("grace_days is only for delete".into()))
            }
            Some(d) => Some(i32::try_from(d).map_err(|_| {
                ApiError::Refused(
                    400,
                    ErrorCode::InvalidGraceDays,
                    "grace_days must be 1 to 365".into(),
                )
            })?),
            None => None,
        };
        let reason = self
            .reason
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty());
        Ok((reason, days))
    }
}

/// `POST /api/platform/tenants/{slug}/{suspend|reactivate|delete|restore}` with
/// [`Change`]'s body: the tenant after the change.
pub fn lifecycle(call: &Call, action: Action) -> Result<Response, ApiError> {
    let (reason, days) = wire::body::<Change>(call.body)?.arguments(action)?;
    let sql = format!(
        "SELECT json_build_object({})::text AS item \
           FROM tenantgate.platform_lifecycle($1, $2, $3, $4::text::inet) AS t",
        fields()
    );
    let rows = call.write(|tx| {
        tx.query(
            &sql,
            &[
                P::Str(action.as_str().to_owned()),
                text(&reason),
                days.map_or(P::DbNull, P::Int32),
                call.addr(),
            ],
        )
    })?;
    wire::one(&rows, "tenant")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(qs: &str) -> Result<ListQuery, ApiError> {
        ListQuery::parse(&Params::parse(qs).unwrap())
    }

    #[test]
    fn list_queries() {
        assert_eq!(
            parse("").unwrap(),
            ListQuery {
                q: None,
                status: None,
                after: None,
                limit: DEFAULT_LIMIT
            }
        );
        assert_eq!(
            parse("q=+Glob+&status=suspended&after=acme&limit=200").unwrap(),
            ListQuery {
                q: Some("Glob".into()),
                status: Some("suspended".into()),
                after: Some("acme".into()),
                limit: 200
            }
        );
        assert_eq!(parse("q=%20%20").unwrap().q, None);
        match parse("status=gone") {
            Err(ApiError::Refused(400, ErrorCode::InvalidStatus, _)) => {}
            other => panic!("{other:?}"),
        }
        for bad in [
            "limit=0",
            "limit=201",
            "limit=x",
            "limit=-1",
            "after=ACME",
            "after=a'b",
        ] {
            assert!(matches!(parse(bad), Err(ApiError::BadRequest(_))), "{bad}");
        }
        assert!(parse(&format!("q={}", "x".repeat(MAX_QUERY))).is_ok());
        assert!(matches!(
            parse(&format!("q={}", "x".repeat(MAX_QUERY + 1))),
            Err(ApiError::Refused(400, ErrorCode::InvalidQuery, _))
        ));
    }

    #[test]
    fn each_action_takes_a_reason_and_only_delete_grace_days() {
        let change = |json: &str| wire::body::<Change>(json.as_bytes()).unwrap();
        assert_eq!(
            change(r#"{"reason": "  unpaid  "}"#)
                .arguments(Action::Suspend)
                .unwrap(),
            (Some("unpaid".into()), None)
        );
        assert_eq!(
            change(r#"{"reason": " "}"#)
                .arguments(Action::Suspend)
                .unwrap(),
            (None, None)
        );
        assert_eq!(
            change(r#"{"grace_days": 7}"#)
                .arguments(Action::Delete)
                .unwrap(),
            (None, Some(7))
        );
        for action in [
            Action::Suspend,
            Action::Reactivate,
            Action::Delete,
            Action::Restore,
        ] {
            assert_eq!(change("").arguments(action).unwrap(), (None, None));
        }
        for action in [Action::Reactivate, Action::Delete, Action::Restore] {
            assert_eq!(
                change(r#"{"reason": "ticket 9"}"#)
                    .arguments(action)
                    .unwrap(),
                (Some("ticket 9".into()), None)
            );
        }
        for (json, action) in [
            (r#"{"grace_days": 7}"#, Action::Suspend),
            (r#"{"grace_days": 7}"#, Action::Restore),
        ] {
            assert!(
                matches!(change(json).arguments(action), Err(ApiError::BadRequest(_))),
                "{json} {action:?}"
            );
        }
        assert!(matches!(
            change(r#"{"grace_days": 10000000000}"#).arguments(Action::Delete),
            Err(ApiError::Refused(400, ErrorCode::InvalidGraceDays, _))
        ));
    }

    #[test]
    fn the_tenant_object_names_every_column_of_the_row_shape() {
        let f = fields();
        for column in [
            "id",
            "slug",
            "name",
            "status",
            "plan",
            "placement",
            "database_target",
            "schema_name",
            "created_at",
            "suspended_at",
            "deleted_at",
            "purge_after",
            "members",
            "requests_today",
            "requests_month",
            "monthly_quota",
        ] {
            assert!(f.contains(&format!("'{column}', ")), "{column}");
        }
    }
}
