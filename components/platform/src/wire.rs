//! Input parsing and output shaping shared by the endpoints: the request's parts, query
//! strings, bodies, and JSON responses.

use serde::de::DeserializeOwned;
use spin_sdk::http::{Request, Response};
use tenant_db::{DbError, ParameterValue, TenantDb, Tx};

use crate::ApiError;

/// The header the gateway puts the admin's label in (the token's `email`, else its `sub`):
/// for display and the audit detail only, never for a decision.
pub const ADMIN_LABEL_HEADER: &str = tenant_contract::headers::PLATFORM_ADMIN_HEADER;

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
    /// The admin's label ([`ADMIN_LABEL_HEADER`]), cleaned.
    pub admin_label: String,
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

    /// Runs `work` in a read-only transaction on the control plane.
    pub fn read<T>(&self, work: impl FnOnce(&Tx) -> Result<T, DbError>) -> Result<T, ApiError> {
        Ok(self.db.read(work)?)
    }

    /// Runs `work` in a read-write transaction on the control plane.
    pub fn write<T>(&self, work: impl FnOnce(&Tx) -> Result<T, DbError>) -> Result<T, ApiError> {
        Ok(self.db.write(work)?)
    }
}

fn header<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.header(name).and_then(|v| v.as_str())
}

/// The gateway's `x-request-id`, for error bodies.
pub fn request_id(req: &Request) -> String {
    header(req, tenant_contract::headers::REQUEST_ID_HEADER)
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(128)
        .collect()
}

/// The client address the gateway forwarded, when it is an IP address.
pub fn client_addr(req: &Request) -> Option<String> {
    header(req, tenant_contract::headers::CLIENT_ADDR_HEADER)
        .and_then(|v| v.trim().parse::<std::net::IpAddr>().ok())
        .map(|ip| ip.to_string())
}

/// The admin's label: printable characters only, at most 200 (empty when absent).
pub fn admin_label(req: &Request) -> String {
    clean_label(header(req, ADMIN_LABEL_HEADER).unwrap_or_default())
}

fn clean_label(raw: &str) -> String {
    raw.trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect()
}

/// Whether a `content-type` value is JSON (`application/json`, parameters allowed).
pub fn is_json(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

/// The request's `content-type`, if any.
pub fn content_type(req: &Request) -> Option<&str> {
    header(req, "content-type")
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

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::BadRequest(msg.into())
}

/// Query-string parameters, percent-decoded (`+` is a space), in order.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses `a=b&c=d`. Fails on bad percent-encoding or text that is not UTF-8.
    pub fn parse(qs: &str) -> Result<Params, ApiError> {
        let mut out = Vec::new();
        for pair in qs.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            out.push((decode(k)?, decode(v)?));
        }
        Ok(Params(out))
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

fn decode(s: &str) -> Result<String, ApiError> {
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

/// Deserialises a JSON body, refusing unknown fields and wrong types (the types say so) with
/// a 400. An empty body is `{}`.
pub fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| bad(format!("invalid JSON body: {e}")))
}

/// A JSON response.
pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .body(body.into())
        .build()
}

/// The SQL expression rendering a timestamptz as the API's timestamp text (UTC, microseconds).
pub fn ts(expr: &str) -> String {
    format!("to_char({expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters() {
        let p = Params::parse("q=glob%20ex&status=active&x=a+b&limit=3&limit=4&e=").unwrap();
        assert_eq!(p.get("q"), Some("glob ex"));
        assert_eq!(p.get("x"), Some("a b"));
        assert_eq!(p.get("limit"), Some("4"));
        assert_eq!(p.get("e"), None);
        assert_eq!(p.get("none"), None);
        assert!(Params::parse("a=%zz").is_err());
        assert!(Params::parse("a=%ff").is_err());
        assert!(Params::parse("a=%4").is_err());
    }

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            " application/json ",
        ] {
            assert!(is_json(Some(ok)), "{ok}");
        }
        for refused in [
            None,
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("text/plain"),
            Some("application/jsonx"),
            Some("application/json-seq"),
        ] {
            assert!(!is_json(refused), "{refused:?}");
        }
    }

    #[test]
    fn bodies() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        struct B {
            reason: Option<String>,
        }
        assert_eq!(body::<B>(b"").unwrap().reason, None);
        assert_eq!(body::<B>(b" \n").unwrap().reason, None);
        assert_eq!(
            body::<B>(br#"{"reason":"x"}"#).unwrap().reason.as_deref(),
            Some("x")
        );
        for bad in [&b"{"[..], br#"{"reason":1}"#, br#"{"other":"x"}"#, b"[]"] {
            assert!(
                matches!(body::<B>(bad), Err(ApiError::BadRequest(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn labels_and_ids() {
        assert_eq!(clean_label("  ops@platform.test "), "ops@platform.test");
        assert_eq!(clean_label("a\nb\u{7}c"), "abc");
        assert_eq!(clean_label(&"x".repeat(300)).len(), 200);
        assert_eq!(
            parse_uuid("A2000000-0000-4000-8000-00000000000F").as_deref(),
            Some("a2000000-0000-4000-8000-00000000000f")
        );
        assert!(parse_uuid("../etc").is_none());
        assert!(parse_uuid("a2000000x0000-4000-8000-00000000000f").is_none());
    }
}
