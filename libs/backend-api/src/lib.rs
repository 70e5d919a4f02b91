//! `backend-api`: the pieces every backend's JSON API behind the gateway needs the same way
//! (`orgs`, `platform`):
//!
//! - the headers the gateway sets ([`request_id`], [`client_addr`]), read defensively: a
//!   backend is reached only through the gateway, but never trusts a value's shape;
//! - input: [`Query`] strings, strict [`json_body`]s, [`parse_uuid`] for path segments,
//!   [`text_without_nul`] for any other client text; every one refuses a NUL character
//!   (Postgres takes none in text), naming the field, so no component answers one with a
//!   500 (tenant-db refuses one too, as a backstop: [`DbError::NulInText`]);
//! - output: [`json`] responses (never cached) and the API's timestamp text ([`ts`]);
//! - static bundles ([`assets`]: a component's embedded pages and scripts under one strict
//!   CSP);
//! - refusals for whoever asked ([`refusal`]: JSON, or an HTML page for a browser navigation
//!   by the gateway's rule, [`is_navigation`]), so no route, static files included, answers
//!   in plain text;
//! - errors: [`classify`] sorts a database error (a refusal raised by a `tenantgate.*` SQL
//!   function, `'<code>|<text>'` with SQLSTATE `TG4xx`, keeps its status, the contract's
//!   [`ErrorCode`] and its client-safe text; a value Postgres could not take is a 400), and
//!   [`error_response`] is the contract's JSON error body.
//!
//! Malformed input is a [`BadInput`] whose message is safe to show; each component turns it
//! into its 400.

pub mod assets;

use serde::de::DeserializeOwned;
use spin_sdk::http::{Method, Request, Response};
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
    /// Parses `a=b&c=d`. Fails on bad percent-encoding, text that is not UTF-8, and a NUL
    /// (`%00`) in a name or value (naming the parameter).
    pub fn parse(qs: &str) -> Result<Query, BadInput> {
        let mut out = Vec::new();
        for pair in qs.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let (k, v) = (decode(k)?, decode(v)?);
            // Postgres takes no NUL in text: refused here, for every parameter.
            if k.contains('\0') {
                return Err(bad("a query parameter's name contains a NUL character"));
            }
            text_without_nul(&v, &format!("the query parameter `{k}`"))?;
            out.push((k, v));
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
/// a [`BadInput`] naming the problem, and so is a NUL character (`\u0000`) in any string or
/// key, anywhere in the document, named by its JSON path: Postgres takes no NUL in text, so
/// no text holding one may reach it (a 400, never the database's 500).
pub fn json_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BadInput> {
    let parsed = serde_json::from_slice(bytes).map_err(|e| bad(format!("invalid JSON body: {e}")));
    // JSON can only spell a NUL as the escape `\u0000` (a raw control character in a
    // string is not JSON), so a body without that sequence holds none: one linear scan, and
    // the document is walked only when it might.
    if contains(bytes, br"\u0000") {
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) {
            if let Some(path) = nul_path(&value, &mut String::from("$")) {
                return Err(bad(format!(
                    "{path} contains a NUL character (\\u0000), which text may not hold"
                )));
            }
        }
    }
    parsed
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The JSON path (`$.a.b[2]`) of the first string or key holding a NUL, if any; a key's
/// path ends in the key as far as its NUL (`$.a["b` ...`]`: named, not printed whole).
fn nul_path(value: &serde_json::Value, path: &mut String) -> Option<String> {
    use serde_json::Value as V;
    match value {
        V::String(s) if s.contains('\0') => Some(path.clone()),
        V::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let found = nul_path(item, path);
            path.truncate(len);
            found
        }),
        V::Object(map) => map.iter().find_map(|(key, item)| {
            let len = path.len();
            if key.contains('\0') {
                return Some(format!("a key in {path}"));
            }
            push_key(path, key);
            let found = nul_path(item, path);
            path.truncate(len);
            found
        }),
        _ => None,
    }
}

fn push_key(path: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        path.push('.');
        path.push_str(key);
    } else {
        path.push_str(&format!("[{}]", serde_json::Value::from(key)));
    }
}

/// Refuses a NUL character in `value`, text from the client that may reach Postgres (a
/// header, a path segment), naming it `what`.
pub fn text_without_nul<'v>(value: &'v str, what: &str) -> Result<&'v str, BadInput> {
    if value.contains('\0') {
        return Err(bad(format!(
            "{what} contains a NUL character, which text may not hold"
        )));
    }
    Ok(value)
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
    /// A text parameter holding a NUL character, refused before it reached Postgres
    /// ([`DbError::NulInText`]): the caller's 400.
    NulInText,
    /// Anything else (a bug or an outage: the component's 500/503), with its text for the log.
    Other(DbError),
}

/// Sorts a database error into a [`DbFailure`]. A refusal whose code the contract does not
/// know is [`DbFailure::Other`], so its text never reaches a client.
pub fn classify(e: DbError) -> DbFailure {
    if let DbError::NulInText = e {
        return DbFailure::NulInText;
    }
    if let Some((status, code, text)) = e.refusal() {
        return match ErrorCode::ALL.iter().find(|c| c.as_str() == code) {
            Some(known) => DbFailure::Refused(status, *known, text.to_owned()),
            None => DbFailure::Other(e),
        };
    }
    match e.sqlstate() {
        // 22021: a byte sequence the encoding refuses (a NUL in text); 22P05: a character
        // jsonb cannot hold (`\u0000`).
        Some("22001" | "22P02" | "22003" | "22007" | "22008" | "23514" | "22021" | "22P05") => {
            DbFailure::BadValue
        }
        _ => DbFailure::Other(e),
    }
}

/// The contract's JSON error response (docs/architecture.md §7): `{"error":{"code","message","request_id"}}`,
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

/// Whether the request is a browser navigation, by the gateway's rule for its login pages
/// (`gateway_core::sso::is_navigation`): `Sec-Fetch-Mode: navigate`, or, from a browser that
/// sends no fetch metadata, a `GET` or `HEAD` whose `Accept` names `text/html`.
pub fn is_navigation(req: &Request) -> bool {
    if !matches!(req.method(), Method::Get | Method::Head) {
        return false;
    }
    if let Some(mode) = header(req, "sec-fetch-mode") {
        return mode.eq_ignore_ascii_case("navigate");
    }
    header(req, "accept").is_some_and(|a| a.to_ascii_lowercase().contains("text/html"))
}

/// A refusal in the contract's shape for whoever asked: [`error_response`] (JSON), or for a
/// browser navigation ([`is_navigation`]) an HTML page saying the same (status, message, code,
/// request id). `extra` headers go on either (a 405's `Allow`); a `HEAD` gets no body.
pub fn refusal(
    req: &Request,
    status: u16,
    code: ErrorCode,
    message: &str,
    extra: &[(&str, &str)],
) -> Response {
    let request_id = request_id(req);
    let mut resp = if is_navigation(req) {
        error_page(status, code, message, &request_id, extra)
    } else {
        error_response(status, code, message, &request_id, extra)
    };
    if matches!(req.method(), Method::Head) {
        resp.body_mut().clear();
    }
    resp
}

/// The HTML error page of a refusal: the message, the stable code and the request id, no
/// script, no style, never cached or framed.
pub fn error_page(
    status: u16,
    code: ErrorCode,
    message: &str,
    request_id: &str,
    extra: &[(&str, &str)],
) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{status}</title></head>\
<body><main><h1>{}</h1><p>Error code <code id=\"error-code\">{}</code> · request <code>{}</code></p>\
<p><a href=\"/\">Home</a></p></main></body></html>",
        escape(message),
        code.as_str(),
        escape(request_id)
    );
    let mut resp = Response::builder();
    resp.status(status)
        .header("content-type", "text/html; charset=utf-8")
        .header("cache-control", "no-store")
        .header(
            "content-security-policy",
            "default-src 'none'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
        )
        .header("x-content-type-options", "nosniff")
        .header("x-frame-options", "DENY");
    for (name, value) in extra {
        resp.header(*name, *value);
    }
    resp.body(html.into_bytes()).build()
}

/// Escapes text for HTML element content.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, headers: &[(&str, &str)]) -> Request {
        let mut b = Request::builder();
        b.method(method).uri("/admin/assets/x.js");
        for (n, v) in headers {
            b.header(*n, *v);
        }
        b.header("x-request-id", "r-9");
        b.build()
    }

    #[test]
    fn refusals_are_json_or_a_page_for_a_browser_navigation() {
        let kind = |r: &Response| {
            r.header("content-type")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        // An API client, a script's fetch, a form post: JSON.
        for req in [
            request(Method::Get, &[]),
            request(Method::Get, &[("accept", "application/json")]),
            request(
                Method::Get,
                &[("sec-fetch-mode", "cors"), ("accept", "text/html")],
            ),
            request(Method::Post, &[("accept", "text/html")]),
        ] {
            let r = refusal(&req, 404, ErrorCode::NotFound, "no such file", &[]);
            assert_eq!(*r.status(), 404);
            assert!(kind(&r).starts_with("application/json"), "{}", kind(&r));
            let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
            assert_eq!(body["error"]["code"], "not_found");
            assert_eq!(body["error"]["request_id"], "r-9");
        }
        // A navigation: the page, with the code and request id, escaped.
        for req in [
            request(Method::Get, &[("sec-fetch-mode", "navigate")]),
            request(Method::Get, &[("accept", "text/html,*/*")]),
        ] {
            let r = refusal(
                &req,
                404,
                ErrorCode::NotFound,
                "no <file>",
                &[("allow", "GET")],
            );
            assert_eq!(*r.status(), 404);
            assert!(kind(&r).starts_with("text/html"));
            let html = std::str::from_utf8(r.body()).unwrap();
            assert!(html.contains("no &lt;file&gt;") && html.contains(">not_found<"));
            assert!(html.contains("r-9"));
            assert_eq!(r.header("allow").and_then(|v| v.as_str()), Some("GET"));
        }
        // HEAD: the status and headers, no body.
        let r = refusal(
            &request(Method::Head, &[]),
            404,
            ErrorCode::NotFound,
            "x",
            &[],
        );
        assert!(r.body().is_empty() && kind(&r).starts_with("application/json"));
    }

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

    #[test]
    fn a_nul_anywhere_in_a_body_is_refused_by_its_path() {
        #[derive(serde::Deserialize, Debug)]
        struct Any {
            #[allow(dead_code)]
            #[serde(flatten)]
            rest: serde_json::Map<String, serde_json::Value>,
        }
        for (body, path) in [
            (r#"{"slug":"globex\u0000"}"#, "$.slug"),
            (r#"{"a":{"b":["x","y\u0000z"]}}"#, "$.a.b[1]"),
            (r#"{"a":[{"k":1},{"k":"\u0000"}]}"#, "$.a[1].k"),
            (r#"{"a":{"bad\u0000key":1}}"#, "a key in $.a"),
            (r#"{"odd key":["\u0000"]}"#, r#"$["odd key"][0]"#),
            (r#"{"\\\u0000":1}"#, "a key in $"),
        ] {
            let e = json_body::<Any>(body.as_bytes()).unwrap_err();
            assert!(
                e.0.starts_with(&format!("{path} contains a NUL")),
                "{body}: {e:?}"
            );
        }
        // Controls: no NUL, or a backslash followed by the letters (not an escape).
        for ok in [
            r#"{"slug":"globex"}"#,
            r#"{"a":"\\u0000"}"#,
            r#"{"a":["\u0001"]}"#,
        ] {
            assert!(json_body::<Any>(ok.as_bytes()).is_ok(), "{ok}");
        }
        assert!(json_body::<Vec<String>>(br#"["a","\u0000"]"#)
            .unwrap_err()
            .0
            .starts_with("$[1] contains a NUL"));
        // A wrong type is still the usual message.
        assert!(json_body::<Vec<String>>(b"[1]")
            .unwrap_err()
            .0
            .starts_with("invalid JSON body"));
    }

    #[test]
    fn a_nul_in_a_query_parameter_is_refused_by_name() {
        let e = Query::parse("q=ac%00me").unwrap_err();
        assert!(e.0.contains("`q`"), "{e:?}");
        assert!(Query::parse("x%00=1").is_err());
        assert_eq!(
            Query::parse("q=ac%01me").unwrap().get("q"),
            Some("ac\u{1}me")
        );
        assert!(text_without_nul("a\0", "the header").is_err());
        assert_eq!(text_without_nul("a", "the header"), Ok("a"));
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
        assert!(matches!(classify(DbError::NulInText), DbFailure::NulInText));
        for state in [
            "22001", "22P02", "22003", "22007", "22008", "23514", "22021", "22P05",
        ] {
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
