//! The HTTP headers that are part of the contract: the ones the gateway adds for backends,
//! the internal ones no client may send, and the hop-by-hop list.
//!
//! Header names are compared case-insensitively, and for internal names `_` counts as `-`:
//! some servers and CGI-style gateways fold `x_tenant_context` into `x-tenant-context`
//! (or both into `HTTP_X_TENANT_CONTEXT`), so a client must not get either spelling through.

/// The signed tenant context, set by the gateway (see [`crate::context`]).
pub use crate::context::CONTEXT_HEADER;

/// The normalised host the request arrived on, set by the gateway.
pub const TENANT_HOST_HEADER: &str = "x-tenant-host";

/// The client's address as the host saw it (`spin-client-addr`, port dropped), set by the
/// gateway for backends that record it (the audit log). Absent when the host gave none.
pub const CLIENT_ADDR_HEADER: &str = "x-tenant-client-addr";

/// On the platform surface (`/platform`, `/api/platform` on the apex): the platform admin's
/// label (the token's `email`, else its `sub`), set by the gateway, for display and audit
/// detail. The admin's id is in the signed context.
pub const PLATFORM_ADMIN_HEADER: &str = "x-tenant-platform-admin";

/// The request id, set by the gateway (and echoed on responses).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Name prefixes only the platform sets: `x-tenant-*` (the gateway's) and `spin-*` (the
/// host's; Spin appends its own after the client's and does not strip forged ones).
pub const INTERNAL_PREFIXES: &[&str] = &["x-tenant-", "spin-"];

/// The `spin-*` headers Spin (and the project's host) append after the client's own, one
/// of each per request: the last occurrence of each of these names is the host's, never
/// the client's. (`spin-path-match-*`, one per route parameter, is not listed: its names
/// depend on the route, so a client could choose them.)
pub const HOST_ADDED: &[&str] = &[
    "spin-path-info",
    "spin-full-url",
    "spin-matched-route",
    "spin-base-path",
    "spin-raw-component-route",
    "spin-component-route",
    "spin-client-addr",
];

/// Hop-by-hop headers (RFC 9110 §7.6.1 and the usual legacy ones): never forwarded, in
/// either direction.
pub const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Whether `name` is a hop-by-hop header (any case).
pub fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP.iter().any(|h| name.eq_ignore_ascii_case(h))
}

/// Whether `name` is an internal header in any spelling: any case, `_` for `-`
/// (`X_Tenant_Context`, `spin_full_url`).
pub fn is_internal(name: &str) -> bool {
    INTERNAL_PREFIXES.iter().any(|p| same_name_prefix(name, p))
}

/// Whether `name` equals `canonical` (lower case, `-`) in any case, with `_` for `-`.
pub fn same_name(name: &str, canonical: &str) -> bool {
    name.len() == canonical.len() && same_name_prefix(name, canonical)
}

fn same_name_prefix(name: &str, prefix: &str) -> bool {
    name.len() >= prefix.len()
        && name.bytes().zip(prefix.bytes()).all(|(a, b)| {
            let a = if a == b'_' {
                b'-'
            } else {
                a.to_ascii_lowercase()
            };
            a == b
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_names_match_in_every_spelling() {
        for name in [
            "x-tenant-context",
            "X-Tenant-Host",
            "x_tenant_context",
            "X_TENANT_CONTEXT",
            "x-tenant_context",
            "spin-full-url",
            "spin_path_info",
            "SPIN_CLIENT_ADDR",
        ] {
            assert!(is_internal(name), "{name}");
        }
        for name in [
            "x-tenantcontext",
            "xtenant-context",
            "spinach",
            "x-request-id",
            "accept",
        ] {
            assert!(!is_internal(name), "{name}");
        }
        assert!(same_name("X_Request_Id", REQUEST_ID_HEADER));
        assert!(!same_name("x-request-ids", REQUEST_ID_HEADER));
    }

    #[test]
    fn hop_by_hop_includes_proxy_authorization() {
        assert!(is_hop_by_hop("Proxy-Authorization"));
        assert!(is_hop_by_hop("TRANSFER-ENCODING"));
        assert!(!is_hop_by_hop("authorization"));
    }
}
