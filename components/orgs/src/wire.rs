//! Input parsing and output shaping shared by the endpoints: the request's parts, query
//! strings, cursors, bodies, and pages of JSON rows Postgres built.

use base64::Engine as _;
use serde::de::DeserializeOwned;
use spin_sdk::http::{Request, Response};
use tenant_db::{DbError, ParameterValue, RowSet, TenantDb, Tx};

use crate::ApiError;
/// The API's timestamp text (UTC, microseconds), which is also a cursor's keyset value.
pub use backend_api::ts;
pub use backend_api::{client_addr, json, parse_uuid, request_id};
use backend_api::{header, Query};

/// Page size when the client names none.
pub const DEFAULT_LIMIT: i64 = 50;
/// The largest page.
pub const MAX_LIMIT: i64 = 100;

/// One API call: the database handle and the request parts the endpoints read.
pub struct Call<'a> {
    /// The control-plane database with the request's context.
    pub db: &'a TenantDb,
    /// The raw query string.
    pub query: &'a str,
    /// The raw body.
    pub body: &'a [u8],
    /// The client address the gateway saw (`x-tenant-client-addr`), validated.
    pub client_addr: Option<String>,
    /// `scheme://host[:port]` of the tenant as the browser addresses it.
    pub origin: String,
}

impl Call<'_> {
    /// The client address as a parameter (`$n::text::inet`; NULL when unknown).
    pub fn addr(&self) -> ParameterValue {
        self.client_addr
            .clone()
            .map_or(ParameterValue::DbNull, ParameterValue::Str)
    }

    /// The query string's parameters, percent-decoded.
    pub fn params(&self) -> Result<Params, ApiError> {
        Params::parse(self.query)
    }

    /// Runs `work` in a read-only transaction.
    pub fn read<T>(&self, work: impl FnOnce(&Tx) -> Result<T, DbError>) -> Result<T, ApiError> {
        Ok(self.db.read(work)?)
    }

    /// Runs `work` in a read-write transaction.
    pub fn write<T>(&self, work: impl FnOnce(&Tx) -> Result<T, DbError>) -> Result<T, ApiError> {
        Ok(self.db.write(work)?)
    }
}

/// The gateway's normalised host of this request (`x-tenant-host`).
pub fn tenant_host(req: &Request) -> Option<&str> {
    header(req, tenant_contract::headers::TENANT_HOST_HEADER)
}

/// The organisation's slug from the context the gateway signed, read without verifying it
/// (only for building the pages' CSP; Postgres verifies the context of every query).
pub fn context_slug(req: &Request) -> Option<String> {
    let token = header(req, tenant_contract::headers::CONTEXT_HEADER)?;
    tenant_contract::context::decode_unverified(token)
        .ok()
        .map(|claims| claims.slug.as_str().to_owned())
}

/// The tenant's origin as the browser addresses it, `scheme://host[:port]`: the gateway's
/// normalised host (`x-tenant-host`; the gateway strips `Host`), with the scheme and port of
/// the request's `Origin` or `Referer` when they name that host; else `https://host` (`http`
/// for `localhost` names, the demo).
pub fn origin(req: &Request) -> String {
    let host = header(req, tenant_contract::headers::TENANT_HOST_HEADER)
        .unwrap_or_default()
        .to_ascii_lowercase();
    origin_of(
        &host,
        [header(req, "origin"), header(req, "referer")]
            .into_iter()
            .flatten(),
    )
}

fn origin_of<'a>(host: &str, seen: impl Iterator<Item = &'a str>) -> String {
    for s in seen {
        let Some((scheme, rest)) = s.split_once("://") else {
            continue;
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let (name, port) = match authority.rsplit_once(':') {
            Some((n, p)) if p.parse::<u16>().is_ok() => (n, Some(p)),
            _ => (authority, None),
        };
        if matches!(scheme, "http" | "https") && name.eq_ignore_ascii_case(host) && !host.is_empty()
        {
            return match port {
                Some(p) => format!("{scheme}://{host}:{p}"),
                None => format!("{scheme}://{host}"),
            };
        }
    }
    let local = host == "localhost" || host.ends_with(".localhost");
    format!("{}://{host}", if local { "http" } else { "https" })
}

/// A role name or a domain as a path segment: lower-case letters, digits, `-`, `_`, `.`,
/// 1 to 253 characters; None otherwise (no such item can exist).
pub fn parse_name(s: &str) -> Option<&str> {
    let ok = (1..=253).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"-_.".contains(&c));
    ok.then_some(s)
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::BadRequest(msg.into())
}

/// Query-string parameters ([`backend_api::Query`]), with this API's paging and timestamps.
#[derive(Debug, Default)]
pub struct Params(Query);

impl Params {
    /// Parses `a=b&c=d`. Fails on bad percent-encoding or text that is not UTF-8.
    pub fn parse(qs: &str) -> Result<Params, ApiError> {
        Ok(Params(Query::parse(qs)?))
    }

    /// The last value of `key` (empty values count as absent).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key)
    }

    /// `limit` (1..=[`MAX_LIMIT`], default [`DEFAULT_LIMIT`]) and `after` (a cursor this API
    /// gave).
    pub fn page(&self) -> Result<Page, ApiError> {
        let limit = match self.get("limit") {
            None => DEFAULT_LIMIT,
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| bad(format!("limit must be 1 to {MAX_LIMIT}")))?,
        };
        let after = self
            .get("after")
            .map(|c| decode_cursor(c).ok_or_else(|| bad("after is not a cursor this API gave")))
            .transpose()?;
        Ok(Page { limit, after })
    }

    /// A timestamp parameter (RFC 3339: `2026-12-01T10:00:00Z`, offsets and fractions
    /// allowed), checked for shape here; Postgres parses it.
    pub fn timestamp(&self, key: &str) -> Result<Option<String>, ApiError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let b = v.as_bytes();
        let ok = (10..=40).contains(&b.len())
            && b[..10].iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                _ => c.is_ascii_digit(),
            })
            && v.bytes()
                .all(|c| c.is_ascii_digit() || b"-:.TZ+ ".contains(&c));
        if ok {
            Ok(Some(v.to_owned()))
        } else {
            Err(bad(format!("{key} must be an RFC 3339 timestamp")))
        }
    }
}

/// A page request: size and keyset position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// 1..=[`MAX_LIMIT`].
    pub limit: i64,
    /// The last row of the previous page: (timestamp text or empty, key).
    pub after: Option<(String, String)>,
}

/// The opaque cursor for a keyset position (timestamp text or empty, key).
pub fn encode_cursor(ts: &str, key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{ts}|{key}"))
}

fn decode_cursor(s: &str) -> Option<(String, String)> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let (ts, key) = raw.split_once('|')?;
    // The timestamp is what `ts()` below produced: digits and these separators only.
    let ts_ok = ts.is_empty()
        || (ts.len() == 27
            && ts
                .bytes()
                .all(|c| c.is_ascii_digit() || b"-:.TZ".contains(&c)));
    (ts_ok && parse_name(key).is_some()).then(|| (ts.to_owned(), key.to_owned()))
}

/// Deserialises a JSON body, refusing unknown fields (the types say so) with a 400.
pub fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    Ok(backend_api::json_body(bytes)?)
}

/// 204.
pub fn no_content() -> Response {
    Response::builder()
        .status(204)
        .header("cache-control", "no-store")
        .build()
}

/// The text column `name` of each row.
pub fn texts(rows: &RowSet, name: &str) -> Vec<String> {
    rows.rows()
        .map(|r| r.get::<String>(name).unwrap_or_default())
        .collect()
}

/// The text column `item` of the first row (a JSON object Postgres built), or 404 `what`.
pub fn one(rows: &RowSet, what: &'static str) -> Result<String, ApiError> {
    rows.rows()
        .next()
        .and_then(|r| r.get::<String>("item"))
        .ok_or(ApiError::NotFound(what))
}

/// `{"items": [...], "next": cursor or null}` from rows with the text columns `item` (a
/// JSON object), `k_ts` and `k_key` (the row's keyset position). A full page gets a cursor.
pub fn page(rows: &RowSet, limit: i64) -> Vec<u8> {
    let items = texts(rows, "item");
    let next = (items.len() as i64 == limit)
        .then(|| rows.rows().last())
        .flatten()
        .map(|r| {
            let ts = r.get::<String>("k_ts").unwrap_or_default();
            let key = r.get::<String>("k_key").unwrap_or_default();
            serde_json::Value::String(encode_cursor(&ts, &key)).to_string()
        });
    format!(
        "{{\"items\":[{}],\"next\":{}}}",
        items.join(","),
        next.as_deref().unwrap_or("null")
    )
    .into_bytes()
}

/// Builds `WHERE` clauses with positional parameters: each `?` in a clause takes the next
/// value.
#[derive(Default)]
pub struct Filter {
    clauses: Vec<String>,
    /// The parameters, in order.
    pub params: Vec<ParameterValue>,
}

impl Filter {
    /// Adds `clause` with its values.
    pub fn and(&mut self, clause: &str, values: Vec<ParameterValue>) -> &mut Filter {
        let mut c = clause.to_owned();
        for v in values {
            self.params.push(v);
            c = c.replacen('?', &format!("${}", self.params.len()), 1);
        }
        self.clauses.push(c);
        self
    }

    /// `WHERE a AND b`, or nothing.
    pub fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.clauses.join(" AND "))
        }
    }

    /// Adds the limit as the last parameter and returns its placeholder.
    pub fn limit(&mut self, n: i64) -> String {
        self.params.push(ParameterValue::Int64(n));
        format!("${}", self.params.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters() {
        let p = Params::parse("actor=alice%40acme.example&limit=2&x=a+b&limit=3").unwrap();
        assert_eq!(p.get("actor"), Some("alice@acme.example"));
        assert_eq!(p.get("x"), Some("a b"));
        assert_eq!(p.page().unwrap().limit, 3);
        assert_eq!(
            Params::parse("").unwrap().page().unwrap().limit,
            DEFAULT_LIMIT
        );
        for bad in ["limit=0", "limit=101", "limit=x", "after=zz"] {
            assert!(Params::parse(bad).unwrap().page().is_err(), "{bad}");
        }
        assert!(Params::parse("a=%zz").is_err());
        assert!(Params::parse("a=%ff").is_err());
        let p = Params::parse("since=2026-12-01T10:00:00Z&until=yesterday").unwrap();
        assert_eq!(
            p.timestamp("since").unwrap().as_deref(),
            Some("2026-12-01T10:00:00Z")
        );
        assert!(p.timestamp("until").is_err());
        assert_eq!(p.timestamp("none").unwrap(), None);
    }

    #[test]
    fn cursors_round_trip_and_refuse_smuggled_text() {
        let c = encode_cursor(
            "2026-11-22T10:00:00.000001Z",
            "a2000000-0000-4000-8000-000000000001",
        );
        let p = Params::parse(&format!("after={c}"))
            .unwrap()
            .page()
            .unwrap();
        assert_eq!(p.after.unwrap().0, "2026-11-22T10:00:00.000001Z");
        let c = encode_cursor("", "viewer");
        assert_eq!(
            Params::parse(&format!("after={c}"))
                .unwrap()
                .page()
                .unwrap()
                .after,
            Some((String::new(), "viewer".into()))
        );
        for evil in ["2026'); DROP TABLE x;--|a", "|Robert'); --"] {
            let c = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(evil);
            assert!(
                Params::parse(&format!("after={c}"))
                    .unwrap()
                    .page()
                    .is_err(),
                "{evil}"
            );
        }
    }

    #[test]
    fn names_and_uuids() {
        assert!(parse_uuid("A2000000-0000-4000-8000-00000000000f").is_some());
        assert!(parse_uuid("../etc").is_none());
        assert!(parse_name("portal.acme.test").is_some());
        for bad in ["", "A", "a b", "a'b", "a/b"] {
            assert!(parse_name(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_origin_comes_from_the_browser_only_for_the_tenants_own_host() {
        let o = |seen: &[&'static str]| origin_of("acme.localhost", seen.iter().copied());
        assert_eq!(
            o(&["http://acme.localhost:3000"]),
            "http://acme.localhost:3000"
        );
        assert_eq!(
            o(&[
                "https://evil.test",
                "http://acme.localhost:3000/admin/sso?x"
            ]),
            "http://acme.localhost:3000"
        );
        assert_eq!(o(&["http://evil.test:1"]), "http://acme.localhost");
        assert_eq!(
            origin_of("portal.acme.com", std::iter::empty()),
            "https://portal.acme.com"
        );
    }

    #[test]
    fn filters_number_their_parameters() {
        let mut f = Filter::default();
        f.and("a = ?", vec![ParameterValue::Str("x".into())]).and(
            "(b, c) < (?, ?)",
            vec![ParameterValue::DbNull, ParameterValue::DbNull],
        );
        assert_eq!(f.sql(), "WHERE a = $1 AND (b, c) < ($2, $3)");
        assert_eq!(f.limit(5), "$4");
    }
}
