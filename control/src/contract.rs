//! The control plane's side of the tenant contract (`tenant-contract`, shared with the
//! gateway, the backends and the tests): names checked by the contract's types, custom
//! domains normalised by the gateway's own host normaliser (with messages for a person
//! typing one). The isolation audit signs its contexts with the contract's signer.

use tenant_contract::host::{looks_like_ipv4, normalise_name};
use tenant_contract::ids::{DatabaseTarget, SchemaName, TenantSlug};

use crate::error::{Error, Result};

/// A tenant slug is one DNS label (the contract's [`TenantSlug`]).
pub fn valid_slug(s: &str) -> bool {
    s.parse::<TenantSlug>().is_ok()
}

/// A `tenant_placements.database_target` name (the contract's [`DatabaseTarget`]).
pub fn valid_target_name(name: &str) -> bool {
    name.parse::<DatabaseTarget>().is_ok()
}

/// A `tenant_placements.schema_name` (the contract's [`SchemaName`], `tenant_*`).
pub fn valid_schema_name(name: &str) -> bool {
    name.parse::<SchemaName>().is_ok()
}

fn invalid(why: impl Into<String>) -> Error {
    Error::InvalidDomain(why.into())
}

/// The canonical form of a custom domain, or why `input` is not one.
///
/// Accepts what a person would paste (`Portal.Acme.com.`, `bücher.example`) and refuses what is not a
/// bare domain name: schemes, paths, ports, userinfo, IP addresses, single labels, and names DNS cannot
/// hold. The result is what the gateway's host normaliser gives for the same name.
pub fn normalise_domain(input: &str) -> Result<String> {
    let raw = input.trim();
    if raw.is_empty() {
        return Err(invalid("the domain is empty"));
    }
    if raw.contains("://") {
        return Err(invalid(format!(
            "{raw:?}: give the bare domain name, without a scheme (portal.acme.com)"
        )));
    }
    if raw.contains(['/', '?', '#']) {
        return Err(invalid(format!(
            "{raw:?}: give the bare domain name, without a path (portal.acme.com)"
        )));
    }
    if raw.contains('@') {
        return Err(invalid(format!("{raw:?}: a domain has no user part")));
    }
    if raw.contains(['[', ']', ':']) {
        return Err(invalid(format!(
            "{raw:?}: give the domain name without a port; IP addresses are not domains"
        )));
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(format!(
            "{raw:?}: a domain has no spaces or control characters"
        )));
    }
    let name = raw.strip_suffix('.').unwrap_or(raw);
    if name.is_empty() || name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        return Err(invalid(format!("{raw:?}: a domain has no empty labels")));
    }
    if looks_like_ipv4(name) {
        return Err(invalid(format!("{raw:?}: IP addresses are not domains")));
    }
    // Exactly what the gateway makes of the same name in a `Host` header.
    let host = normalise_name(name).map_err(|_| {
        invalid(format!(
            "{raw:?} is not a valid domain name (letters, digits and '-' in labels of 1 to 63 \
             characters, not starting or ending with '-'; at most 253 characters)"
        ))
    })?;
    if !host.as_str().contains('.') {
        return Err(invalid(format!(
            "{raw:?}: a custom domain has at least two labels (portal.acme.com)"
        )));
    }
    Ok(host.as_str().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_normalise_as_a_person_would_type_them() {
        for (input, want) in [
            ("portal.acme.com", "portal.acme.com"),
            ("Portal.ACME.com", "portal.acme.com"),
            ("portal.acme.com.", "portal.acme.com"),
            ("  portal.acme.com\n", "portal.acme.com"),
            ("bücher.example", "xn--bcher-kva.example"),
            ("xn--bcher-kva.example", "xn--bcher-kva.example"),
            ("a-b.c-d.example", "a-b.c-d.example"),
        ] {
            assert_eq!(normalise_domain(input).unwrap(), want, "{input}");
        }
    }

    #[test]
    fn what_is_not_a_bare_domain_is_refused_with_the_reason() {
        for (input, reason) in [
            ("", "empty"),
            ("https://portal.acme.com", "scheme"),
            ("portal.acme.com/login", "path"),
            ("admin@portal.acme.com", "user part"),
            ("portal.acme.com:8443", "port"),
            ("[::1]", "port"),
            ("127.0.0.1", "IP addresses"),
            ("10.1", "IP addresses"),
            ("acme.0x7f", "IP addresses"),
            ("localhost", "two labels"),
            ("portal..acme.com", "empty labels"),
            (".acme.com", "empty labels"),
            ("-bad.acme.com", "not a valid domain"),
            ("bad-.acme.com", "not a valid domain"),
            ("under_score.acme.com", "not a valid domain"),
            ("porta l.acme.com", "spaces"),
            ("a\u{0}.com", "control"),
        ] {
            let e = normalise_domain(input).unwrap_err().to_string();
            assert!(e.contains(reason), "{input:?}: {e}");
        }
        let long_label = format!("{}.com", "a".repeat(64));
        assert!(normalise_domain(&long_label).is_err());
        let long_name = format!("{}com", "abcdefghi.".repeat(26));
        assert!(normalise_domain(&long_name).is_err());
        assert!(normalise_domain(&format!("{}com", "abcdefghi.".repeat(24))).is_ok());
    }

    #[test]
    fn slugs_are_dns_labels() {
        assert!(valid_slug("acme"));
        assert!(valid_slug("a-1"));
        for bad in ["", "-a", "a-", "Acme", "a.b", "a_b", &"a".repeat(64)] {
            assert!(!valid_slug(bad), "{bad}");
        }
    }

    #[test]
    fn schema_names_follow_the_routing_table() {
        assert!(valid_schema_name("tenant_acme"));
        assert!(valid_schema_name("tenant_a_b9"));
        for bad in [
            "tenant_",
            "acme",
            "tenant_Acme",
            "tenant_a-b",
            &format!("tenant_{}", "a".repeat(57)),
        ] {
            assert!(!valid_schema_name(bad), "{bad}");
        }
    }
}
