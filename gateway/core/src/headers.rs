//! Request header sanitising and size limits.
//!
//! [`sanitise`] removes, case-insensitively, with `_` read as `-` (a backend framework
//! may fold `x_tenant_context` into `x-tenant-context`), and in every duplicate:
//! - `x-tenant-*` (ours: the gateway adds `x-tenant-context` and `x-tenant-host`, so a
//!   client can never forge them) and `spin-*` (Spin adds its own after the client's and
//!   does not strip forged ones);
//! - hop-by-hop headers (`connection`, `keep-alive`, `proxy-authenticate`,
//!   `proxy-authorization`, `proxy-connection`, `te`, `trailer`, `transfer-encoding`,
//!   `upgrade`) and every header named in any `Connection` value;
//! - `host` (the forward goes to another host; the tenant's host travels as
//!   `x-tenant-host`), `authorization` (the gateway is the authentication boundary;
//!   backends trust the signed context, and must not see end-user tokens),
//!   `x-request-id` (the gateway sets its own), and any header whose name is not an
//!   RFC 9110 token or whose value holds CR, LF or NUL.
//!
//! [`Limits`] caps the client's header bytes (431) and the body, declared or streamed
//! (413). The `spin-*` headers the host appends after the client's (the last occurrence of
//! each name in [`HOST_ADDED`]) are not the client's bytes and do not count: a long path,
//! which the host repeats in `spin-full-url` and `spin-path-info`, is judged by what the
//! client sent. Client copies of those names still count (and are stripped).

/// Hop-by-hop headers: the contract's one list.
pub use tenant_contract::headers::HOP_BY_HOP;
/// The `spin-*` headers the host appends after the client's.
pub use tenant_contract::headers::HOST_ADDED;
use tenant_contract::headers::{is_internal, same_name, REQUEST_ID_HEADER};

const ALSO_STRIPPED: &[&str] = &["host", "authorization", REQUEST_ID_HEADER];

/// Why a request exceeded a limit or declared its body badly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// Header names and values together exceed the cap: 431 `headers_too_large`.
    #[error("request headers too large")]
    HeadersTooLarge,
    /// The declared or streamed body exceeds the cap: 413 `payload_too_large`.
    #[error("request body too large")]
    PayloadTooLarge,
    /// `Content-Length` is not one decimal number (or several that differ): 400 `bad_request`.
    #[error("malformed Content-Length")]
    BadContentLength,
}

/// Size caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Sum over headers of `name + value + 4` (`": "` and CRLF). Default 32 KiB.
    pub max_header_bytes: usize,
    /// Body bytes. Default 10 MiB.
    pub max_body_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_header_bytes: 32 * 1024,
            max_body_bytes: 10 * 1024 * 1024,
        }
    }
}

impl Limits {
    /// Refuses headers whose total size exceeds the cap, not counting the last occurrence
    /// of each name in [`HOST_ADDED`] (the host's own, appended after the client's).
    pub fn check_headers(&self, headers: &[(String, Vec<u8>)]) -> Result<(), LimitError> {
        let size = |(n, v): &(String, Vec<u8>)| n.len() + v.len() + 4;
        let mut total: usize = headers.iter().map(size).sum();
        for added in HOST_ADDED {
            if let Some(last) = headers
                .iter()
                .rev()
                .find(|(n, _)| n.eq_ignore_ascii_case(added))
            {
                total -= size(last);
            }
        }
        if total > self.max_header_bytes {
            Err(LimitError::HeadersTooLarge)
        } else {
            Ok(())
        }
    }

    /// Checks the declared `Content-Length` (all values of it): `Ok(None)` when absent,
    /// `Ok(Some(n))` when within the cap. Identical repeated values are accepted.
    pub fn check_declared_body(
        &self,
        headers: &[(String, Vec<u8>)],
    ) -> Result<Option<u64>, LimitError> {
        let mut declared = None;
        for (_, v) in headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        {
            let n = parse_length(v).ok_or(LimitError::BadContentLength)?;
            if declared.is_some_and(|d| d != n) {
                return Err(LimitError::BadContentLength);
            }
            declared = Some(n);
        }
        match declared {
            Some(n) if n > self.max_body_bytes => Err(LimitError::PayloadTooLarge),
            other => Ok(other),
        }
    }

    /// A counter for a body being streamed.
    pub fn body_counter(&self) -> BodyCounter {
        BodyCounter {
            seen: 0,
            max: self.max_body_bytes,
        }
    }
}

fn parse_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// Counts body bytes as they stream; the component calls [`BodyCounter::add`] per chunk and
/// stops forwarding on the first error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyCounter {
    seen: u64,
    max: u64,
}

impl BodyCounter {
    /// Adds a chunk of `len` bytes; fails once the running total exceeds the cap.
    pub fn add(&mut self, len: usize) -> Result<u64, LimitError> {
        self.seen = self.seen.saturating_add(len as u64);
        if self.seen > self.max {
            Err(LimitError::PayloadTooLarge)
        } else {
            Ok(self.seen)
        }
    }
}

/// The request headers safe to forward (see the module doc for what is removed).
pub fn sanitise(headers: &[(String, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    let mut named: Vec<String> = Vec::new();
    for (_, v) in headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
    {
        let v = String::from_utf8_lossy(v);
        named.extend(
            v.split(',')
                .map(|t| t.trim().to_ascii_lowercase().replace('_', "-"))
                .filter(|t| !t.is_empty()),
        );
    }
    let listed = |list: &[&str], name: &str| list.iter().any(|h| same_name(name, h));
    headers
        .iter()
        .filter(|(name, value)| {
            is_token(name)
                && !is_internal(name)
                && !listed(HOP_BY_HOP, name)
                && !listed(ALSO_STRIPPED, name)
                && !named.iter().any(|n| same_name(name, n))
                && !value.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0))
        })
        .filter_map(|(name, value)| {
            if !name.eq_ignore_ascii_case("cookie") {
                return Some((name.clone(), value.clone()));
            }
            without_gateway_cookies(value).map(|v| (name.clone(), v))
        })
        .collect()
}

/// The gateway's own cookies: its credentials, like `Authorization`, are not forwarded.
const GATEWAY_COOKIES: &[&str] = &[
    crate::sso::session::COOKIE,
    crate::sso::session::SECURE_COOKIE,
    crate::sso::FLOW_COOKIE,
];

/// A `Cookie` value without the gateway's cookies; `None` when nothing else is left.
fn without_gateway_cookies(value: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(value).ok()?;
    let kept: Vec<&str> = text
        .split(';')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .filter(|pair| {
            let name = pair.split_once('=').map_or(*pair, |(n, _)| n).trim();
            !GATEWAY_COOKIES.contains(&name)
        })
        .collect();
    (!kept.is_empty()).then(|| kept.join("; ").into_bytes())
}

/// An RFC 9110 `token` (header field name).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
#[path = "headers_tests.rs"]
mod tests;
