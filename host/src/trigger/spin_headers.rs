//! The `spin-*` request headers Spin adds, for requests from outside and for chained
//! requests.
//!
//! They are appended after the client's own, which are kept, as in Spin: a guest must
//! not trust a `spin-*` header it did not get from the host, and the host's value is
//! always the last one. They are added after every check of the client's request, so
//! they never count against a limit the host applies to the client's own bytes.

use http::{HeaderMap, HeaderName, HeaderValue};

/// The `spin-*` values of one request, in the order Spin appends them.
pub(crate) struct SpinHeaders<'a> {
    pub path_info: &'a str,
    pub full_url: String,
    pub matched_route: &'a str,
    pub raw_component_route: &'a str,
    pub component_route: &'a str,
    pub client_addr: String,
    pub params: &'a [(String, String)],
}

impl SpinHeaders<'_> {
    /// Appends these headers to `headers`.
    pub(crate) fn append_to(&self, headers: &mut HeaderMap) {
        let mut add = |name: &str, value: &str| {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.append(n, v);
            }
        };
        add("spin-path-info", self.path_info);
        add("spin-full-url", &self.full_url);
        add("spin-matched-route", self.matched_route);
        add("spin-base-path", "/");
        add("spin-raw-component-route", self.raw_component_route);
        add("spin-component-route", self.component_route);
        add("spin-client-addr", &self.client_addr);
        for (name, value) in self.params {
            let header = format!(
                "spin-path-match-{}",
                name.to_ascii_lowercase().replace('_', "-")
            );
            add(&header, value);
        }
    }
}
