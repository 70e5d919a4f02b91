//! The pieces of the tenant contract the control plane still defines for itself, gathered here so
//! that switching to the shared `tenant-contract` crate is one edit of this file.
//!
//! Each item has a twin elsewhere in the workspace (issue 11, "the tenant contract has no home"):
//!
//! | here | what | twins |
//! |---|---|---|
//! | [`valid_slug`] | a tenant slug is a DNS label | gateway core, tenant-db |
//! | [`valid_target_name`] | `tenant_placements.database_target` | tenant-db |
//! | [`valid_schema_name`] | `tenant_placements.schema_name` (`tenant_*`) | tenant-db |
//! | [`normalise_domain`] | a custom domain as the gateway normalises a `Host` | gateway core |
//! | [`ContextSigner`] | the signed tenant context (claims, `v1.<kid>.<claims>.<hmac>`) | gateway core, test harness |
//!
//! Nothing else in the control plane validates these names or signs contexts: every caller goes
//! through this module.

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};

use crate::error::{Error, Result};
use crate::placement::PlacementSpec;
use crate::tenant::Tenant;

/// `^[a-z0-9-]{1,63}$`, not starting or ending with `-`: a tenant slug is one DNS label.
pub fn valid_slug(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// `^[a-z0-9][a-z0-9_-]{0,62}$`, as `tenant_placements.database_target` requires.
pub fn valid_target_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

/// `^tenant_[a-z0-9_]{1,56}$`, as `tenant_placements.schema_name` requires.
pub fn valid_schema_name(name: &str) -> bool {
    name.strip_prefix("tenant_").is_some_and(|rest| {
        (1..=56).contains(&rest.len())
            && rest
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
    })
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
    let ascii = Uts46::new()
        .to_ascii(
            name.as_bytes(),
            AsciiDenyList::STD3,
            Hyphens::CheckFirstLast,
            DnsLength::Verify,
        )
        .map_err(|_| {
            invalid(format!(
                "{raw:?} is not a valid domain name (letters, digits and '-' in labels of 1 to 63 \
                 characters, not starting or ending with '-'; at most 253 characters)"
            ))
        })?
        .into_owned();
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err(invalid(format!(
            "{raw:?}: a custom domain has at least two labels (portal.acme.com)"
        )));
    }
    let last = labels[labels.len() - 1];
    let hex = last
        .strip_prefix("0x")
        .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
    if last.bytes().all(|b| b.is_ascii_digit()) || hex {
        return Err(invalid(format!("{raw:?}: IP addresses are not domains")));
    }
    // What the control plane's CHECK constraint and the gateway accept.
    let ldh = labels.iter().all(|l| {
        (1..=63).contains(&l.len())
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    });
    if !ldh || ascii.len() > 253 {
        return Err(invalid(format!("{raw:?} is not a valid domain name")));
    }
    Ok(ascii)
}

/// Signs tenant contexts in the format `migrations/README.md` gives (the gateway's signer lives in
/// the wasm-oriented gateway core; this is the same few lines without its token-verification
/// dependencies). The isolation audit signs with a temporary key.
pub struct ContextSigner {
    /// The key id, as `tenantgate_private.context_keys.kid`.
    pub kid: String,
    /// The HMAC-SHA256 key.
    pub key: [u8; 32],
}

impl ContextSigner {
    /// A context for tenant `t` as the gateway would sign it for a request with no user, valid
    /// for five minutes.
    pub fn for_tenant(&self, t: &Tenant) -> String {
        context(self, t)
    }

    fn sign(&self, claims: &serde_json::Value) -> String {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine as _;
        use hmac::{Hmac, Mac};
        let head = format!(
            "v1.{}.{}",
            self.kid,
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut mac =
            Hmac::<sha2::Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(head.as_bytes());
        format!(
            "{head}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }
}

fn context(signer: &ContextSigner, t: &Tenant) -> String {
    let (plc, db, sch) = match &t.placement {
        PlacementSpec::Shared => ("shared", None, None),
        PlacementSpec::Schema { database, schema } => {
            ("schema", database.target(), Some(schema.as_str()))
        }
        PlacementSpec::Dedicated { database } => ("dedicated", Some(database.as_str()), None),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    signer.sign(&serde_json::json!({
        "tid": t.id.to_string(), "slug": t.slug, "plc": plc, "db": db, "sch": sch, "uid": null,
        "roles": [], "perms": [], "rid": "audit-isolation", "exp": now + 300,
    }))
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
