//! `backend-api`: the pieces every backend's JSON API behind the gateway needs the same way
//! (`orgs`, `platform`):
//!
//! - the headers the gateway sets ([`request_id`], [`client_addr`]), read defensively: a
//!   backend is reached only through the gateway, but never trusts a value's shape;
//! - input: [`Query`] strings, strict [`json_body`]s, [`parse_uuid`] for path segments;
//! - output: [`json`] responses (never cached) and the API's timestamp text ([`ts`]);
//! - errors: [`classify`] sorts a database error (a refusal raised by a `tenantgate.*` SQL
//!   function, `'<code>|<text>'` with SQLSTATE `TG4xx`, keeps its status, the contract's
//!   [`ErrorCode`] and its client-safe text; a value Postgres could not take is a 400), and
//!   [`error_response`] is the contract's JSON error body.
//!
//! Malformed input is a [`BadInput`] whose message is safe to show; each component turns it
//! into its 400.

use serde::de::DeserializeOwned;
use spin_sdk::http::{Request, Response};
use tenant_contract::ErrorCode;
use tenant_db::DbError;

/// Malformed input; the message says what, and is safe to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadInput(pub String);

fn bad(msg: impl Into<String>) -> BadInput {
    BadInput(msg.into())
}

/// A header's value, when it is text.
pub fn header<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.header(name).and_then(|v| v.as_str())
}

/// The gateway's `x-request-id`, for error bodies: visible ASCII, at most 128 characters.
pub fn request_id(req: &Request) -> String {
    header(req, tenant_contract::headers::REQUEST_ID_HEADER)
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(128)
        .collect()
}

/// The client address the gateway forwarded (`x-tenant-client-addr`), when it is an IP
/// address.
pub fn client_addr(req: &Request) -> Option<String> {
    header(req, tenant_contract::headers::CLIENT_ADDR_HEADER)
        .and_then(|v| v.trim().parse::<std::net::IpAddr>().ok())
        .map(|ip| ip.to_string())
}

/// A canonical (lower-case, hyphenated) uuid, or None.
pub fn parse_uuid(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let ok = b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        });
    ok.then(|| s.to_ascii_lowercase())
}

/// Query-string parameters, percent-decoded (`+` is a space), in order.
#[derive(Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Parses `a=b&c=d`. Fails on bad percent-encoding or text that is not UTF-8.
    pub fn parse(qs: &str) -> Result<Query, BadInput> {
        let mut out = Vec::new();
        for pair in qs.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            out.push((decode(k)?, decode(v)?));
        }
        Ok(Query(out))
    }

    /// The last value of `key` (empty values count as absent).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }
}

fn decode(s: &str) -> Result<String, BadInput> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| bad("bad percent-encoding in the query string"))?;
                out.push(hex);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| bad("the query string is not UTF-8"))
}

/// Deserialises a JSON body; unknown fields and wrong types (as the type declares them) are
/// a [`BadInput`] naming the problem.
pub fn json_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BadInput> {
    serde_json::from_slice(bytes).map_err(|e| bad(format!("invalid JSON body: {e}")))
}

/// A JSON response, never cached.
pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .body(body.into())
        .build()
}

/// The SQL expression rendering a timestamptz as the API's timestamp text (UTC,
/// microseconds).
pub fn ts(expr: &str) -> String {
    format!("to_char({expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
}

/// What a database error means to an API.
#[derive(Debug)]
pub enum DbFailure {
    /// A refusal of a `tenantgate.*` function whose code the contract knows: status, code,
    /// client-safe text.
    Refused(u16, ErrorCode, String),
    /// A value Postgres could not take (a malformed inet, uuid or timestamp, a number out of
    /// range, a string too long, a CHECK): the caller's 400.
    BadValue,
    /// Anything else (a bug or an outage: the component's 500/503), with its text for the log.
    Other(DbError),
}

/// Sorts a database error into a [`DbFailure`]. A refusal whose code the contract does not
/// know is [`DbFailure::Other`], so its text never reaches a client.
pub fn classify(e: DbError) -> DbFailure {
    if let Some((status, code, text)) = e.refusal() {
        return match ErrorCode::ALL.iter().find(|c| c.as_str() == code) {
            Some(known) => DbFailure::Refused(status, *known, text.to_owned()),
            None => DbFailure::Other(e),
        };
    }
    match e.sqlstate() {
        Some("22001" | "22P02" | "22003" | "22007" | "22008" | "23514") => DbFailure::BadValue,
        _ => DbFailure::Other(e),
    }
}

/// The contract's JSON error response (DESIGN §7): `{"error":{"code","message","request_id"}}`,
/// never cached, `Retry-After: 5` on a 503, and `extra` headers (a 405's `Allow`).
pub fn error_response(
    status: u16,
    code: ErrorCode,
    message: &str,
    request_id: &str,
    extra: &[(&str, &str)],
) -> Response {
    let mut resp = Response::builder();
    resp.status(status)
        .header("content-type", tenant_contract::error::ERROR_CONTENT_TYPE)
        .header("cache-control", "no-store");
    for (name, value) in extra {
        resp.header(*name, *value);
    }
    if status == 503 {
        resp.header("retry-after", "5");
    }
    resp.body(tenant_contract::error_body(code, message, request_id))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters() {
        let p = Query::parse("q=glob%20ex&status=active&x=a+b&limit=3&limit=4&e=").unwrap();
        assert_eq!(p.get("q"), Some("glob ex"));
        assert_eq!(p.get("x"), Some("a b"));
        assert_eq!(p.get("limit"), Some("4"));
        assert_eq!(p.get("e"), None);
        assert_eq!(p.get("none"), None);
        for bad in ["a=%zz", "a=%ff", "a=%4", "%=1"] {
            assert!(Query::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn uuids() {
        assert_eq!(
            parse_uuid("A2000000-0000-4000-8000-00000000000F").as_deref(),
            Some("a2000000-0000-4000-8000-00000000000f")
        );
        for bad in [
            "../etc",
            "a2000000x0000-4000-8000-00000000000f",
            "",
            "a2000000-0000-4000-8000-00000000000",
        ] {
            assert!(parse_uuid(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn bodies() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        struct B {
            reason: Option<String>,
        }
        assert_eq!(
            json_body::<B>(br#"{"reason":"x"}"#)
                .unwrap()
                .reason
                .as_deref(),
            Some("x")
        );
        for bad in [
            &b""[..],
            b"{",
            br#"{"reason":1}"#,
            br#"{"other":"x"}"#,
            b"[]",
        ] {
            assert!(
                json_body::<B>(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    fn query(state: &str, message: &str) -> DbError {
        DbError::Query {
            sqlstate: Some(state.into()),
            message: message.into(),
        }
    }

    #[test]
    fn database_errors_are_sorted_for_the_client() {
        assert!(matches!(
            classify(query("TG409", "last_owner|keep one")),
            DbFailure::Refused(409, ErrorCode::LastOwner, t) if t == "keep one"
        ));
        // An unknown code is not a refusal: its text stays in the log.
        assert!(matches!(
            classify(query("TG409", "made_up|secret")),
            DbFailure::Other(_)
        ));
        for state in ["22001", "22P02", "22003", "22007", "22008", "23514"] {
            assert!(
                matches!(classify(query(state, "x")), DbFailure::BadValue),
                "{state}"
            );
        }
        assert!(matches!(
            classify(query("42501", "permission denied")),
            DbFailure::Other(_)
        ));
    }

    #[test]
    fn error_responses_have_the_contract_shape() {
        let r = error_response(
            405,
            ErrorCode::MethodNotAllowed,
            "no",
            "r-1",
            &[("allow", "GET")],
        );
        assert_eq!(*r.status(), 405);
        assert_eq!(r.header("allow").and_then(|v| v.as_str()), Some("GET"));
        assert_eq!(
            r.header("cache-control").and_then(|v| v.as_str()),
            Some("no-store")
        );
        assert!(r.header("retry-after").is_none());
        let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(body["error"]["code"], "method_not_allowed");
        assert_eq!(body["error"]["request_id"], "r-1");
        let r = error_response(503, ErrorCode::DependencyUnavailable, "down", "r-2", &[]);
        assert_eq!(r.header("retry-after").and_then(|v| v.as_str()), Some("5"));
    }
}
