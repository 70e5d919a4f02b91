//! Input parsing and output shaping shared by the endpoints: the request's parts, query
//! strings, bodies, and JSON responses.

use serde::de::DeserializeOwned;
use spin_sdk::http::Request;
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
        Ok(Params::parse(self.query)?)
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

use backend_api::header;
pub use backend_api::{client_addr, json, parse_uuid, request_id, ts, Query as Params};

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

/// Deserialises a JSON body, refusing unknown fields and wrong types (the types say so) with
/// a 400. An empty body is `{}`.
pub fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    Ok(backend_api::json_body(bytes)?)
}

/// The `item` of the first row as a 200, or 404 `what`.
pub fn one(
    rows: &tenant_db::RowSet,
    what: &'static str,
) -> Result<spin_sdk::http::Response, ApiError> {
    rows.rows()
        .next()
        .and_then(|r| r.get::<String>("item"))
        .map(|item| json(200, item))
        .ok_or(ApiError::NotFound(what))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn labels() {
        assert_eq!(clean_label("  ops@platform.test "), "ops@platform.test");
        assert_eq!(clean_label("a\nb\u{7}c"), "abc");
        assert_eq!(clean_label(&"x".repeat(300)).len(), 200);
    }
}
