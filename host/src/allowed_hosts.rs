//! `allowed_outbound_hosts`: which network destinations a component may reach.
//!
//! Entries follow Spin's syntax and matching (`spin-outbound-networking-config`,
//! `allowed_hosts.rs`, v3.6.3 and 4.x), never accepting more than the stricter of the two:
//! `scheme://host[:port]` where each part may be `*`, the host may be `*.example.com`
//! (any subdomain, a domain only), the port may be a range `8000..8010` (end-exclusive),
//! and a missing port means the scheme's well-known port — only for the schemes Spin
//! knows (`http`, `https`, `postgres`, `mysql`, `redis`, `mqtt`). As in Spin:
//! - the scheme is compared as written (`HTTPS://x` matches nothing: URL schemes are
//!   lower-case);
//! - hosts are compared as parsed by `url::Host` (case-folded, IDNA), with no trailing
//!   dot removed: `example.com.` is another host than `example.com`;
//! - `http://*.spin.internal` allows chaining to the app's components, and only those
//!   (Spin expands it to one entry per component id);
//! - a bare `self` is not an entry (Spin's v2 manifests need `http://self`).
//!
//! Stricter than Spin 4.x where 3.6.3 is: an IPv6 literal needs an explicit port
//! (`http://[::1]:8080`; 3.6.3 cannot parse `http://[::1]`), and a template that
//! renders to nothing is an error (4.x skips it). Stricter than both: CIDR hosts
//! (`10.0.0.0/8`) and empty port ranges are refused.
//!
//! `{{ var }}` templates are resolved from application variables at load time. An empty
//! list allows nothing. A request that no entry allows is refused before any connection
//! is made, and the guest sees the refusal as an error value.

use std::collections::BTreeMap;

use crate::variables::{ResolvedVariables, Template, VariableDecl};

/// One parsed entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    scheme: Option<String>,
    host: HostPattern,
    ports: PortPattern,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    Exact(url::Host),
    /// `*.example.com`: stored as `.example.com`; matches strict subdomains (domains only).
    Subdomain(String),
    SelfApp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortPattern {
    Any,
    Range(u16, u16),
}

/// The parsed allow-list of one component.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    entries: Vec<Entry>,
}

/// The well-known port of a scheme, used when an entry or URL gives none: Spin's
/// `well_known_port` exactly (no `postgresql`, no `rediss`: Spin knows none for them).
pub fn default_port(scheme: &str) -> Option<u16> {
    Some(match scheme {
        "http" => 80,
        "https" => 443,
        "postgres" => 5432,
        "redis" => 6379,
        "mysql" => 3306,
        "mqtt" => 1883,
        _ => return None,
    })
}

/// The suffix of service-chaining hosts.
const CHAINING_SUFFIX: &str = ".spin.internal";

impl AllowedHosts {
    /// Validates one entry at manifest-parse time (templates only checked for
    /// references to declared variables).
    pub fn check_entry(entry: &str, vars: &BTreeMap<String, VariableDecl>) -> Result<(), String> {
        let t = Template::parse(entry)?;
        let mut has_refs = false;
        for r in t.references() {
            has_refs = true;
            if !vars.contains_key(r) {
                return Err(format!(
                    "`{entry}` refers to `{{{{ {r} }}}}`, which is not an application variable"
                ));
            }
        }
        if !has_refs {
            parse_entry(entry)?;
        }
        Ok(())
    }

    /// Parses a component's entries, resolving templates against `vars`; `*.spin.internal`
    /// entries allow exactly the app's `components`.
    pub fn parse(
        entries: &[String],
        vars: &ResolvedVariables,
        components: &[String],
    ) -> Result<AllowedHosts, String> {
        let mut out = Vec::new();
        for raw in entries {
            let t = Template::parse(raw)?;
            let text = vars.render(&t)?;
            out.push(parse_entry(&text).map_err(|e| format!("`{raw}`: {e}"))?);
        }
        Ok(AllowedHosts {
            entries: expand_chaining(out, components),
        })
    }

    /// Parses literal entries (no templates); `*.spin.internal` allows `components`.
    pub fn parse_literal_for(
        entries: &[&str],
        components: &[&str],
    ) -> Result<AllowedHosts, String> {
        let mut out = Vec::new();
        for e in entries {
            out.push(parse_entry(e).map_err(|m| format!("`{e}`: {m}"))?);
        }
        let ids: Vec<String> = components.iter().map(|c| c.to_string()).collect();
        Ok(AllowedHosts {
            entries: expand_chaining(out, &ids),
        })
    }

    /// Parses literal entries (no templates) of an app without components to chain to.
    pub fn parse_literal(entries: &[&str]) -> Result<AllowedHosts, String> {
        AllowedHosts::parse_literal_for(entries, &[])
    }

    /// Whether `scheme://host:port` is allowed, as Spin decides: `scheme` as the URL
    /// has it (URL schemes are lower-case), `host` as `url::Host` parses it (brackets
    /// optional for IPv6; a host that does not parse is refused), `port` of `None`
    /// meaning the scheme's well-known port (refused if it has none, unless the entry
    /// allows any port).
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let Some(host) = parse_request_host(host) else {
            return false;
        };
        let port = port.or_else(|| default_port(scheme));
        self.entries.iter().any(|e| {
            e.scheme.as_deref().is_none_or(|s| s == scheme)
                && match (&e.host, &host) {
                    (HostPattern::Any, _) => true,
                    (HostPattern::Exact(h), host) => h == host,
                    (HostPattern::Subdomain(suffix), url::Host::Domain(d)) => {
                        d.ends_with(suffix.as_str())
                    }
                    (HostPattern::Subdomain(_), _) => false,
                    (HostPattern::SelfApp, _) => false,
                }
                && match (e.ports, port) {
                    (PortPattern::Any, _) => true,
                    (PortPattern::Range(lo, hi), Some(p)) => (lo..=hi).contains(&p),
                    (PortPattern::Range(..), None) => false,
                }
        })
    }

    /// Whether the component may call back into its own application (`self`).
    pub fn allows_self(&self) -> bool {
        self.entries.iter().any(|e| e.host == HostPattern::SelfApp)
    }

    /// Whether the component may chain to component `id` via `http://<id>.spin.internal`.
    pub fn allows_component(&self, id: &str) -> bool {
        self.allows("http", &format!("{id}.spin.internal"), None)
    }

    /// The `<id>.spin.internal` entries whose `<id>` is not one of `components`: Spin
    /// would start and trap the caller on first use; this host refuses to start.
    pub fn unknown_chaining_targets(&self, components: &[String]) -> Vec<String> {
        self.entries
            .iter()
            .filter_map(|e| match &e.host {
                HostPattern::Exact(url::Host::Domain(d)) => chaining_target(d),
                _ => None,
            })
            .filter(|id| !components.iter().any(|c| c == id))
            .map(str::to_owned)
            .collect()
    }

    /// Whether the list is empty (the component may reach nothing).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The component a request to `host` chains to, as Spin's `parse_service_chaining_host`
/// decides: the first label, when the rest is exactly `spin.internal` (case-sensitive;
/// a port is ignored).
pub fn chaining_target(host: &str) -> Option<&str> {
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let (first, rest) = host.split_once('.')?;
    (rest == &CHAINING_SUFFIX[1..]).then_some(first)
}

/// A request's host as Spin's `HostConfig::allows` parses it (`url::Host::parse`).
fn parse_request_host(host: &str) -> Option<url::Host> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.contains(':') {
        return bare.parse::<std::net::Ipv6Addr>().ok().map(url::Host::Ipv6);
    }
    url::Host::parse(host).ok()
}

/// Replaces each `*.spin.internal` entry by one exact entry per component, as Spin's
/// `expand_wildcard_service_chaining` does, so the wildcard allows the app's
/// components and no other `.spin.internal` name.
fn expand_chaining(entries: Vec<Entry>, components: &[String]) -> Vec<Entry> {
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        match &e.host {
            HostPattern::Subdomain(s) if s == CHAINING_SUFFIX => {
                for id in components {
                    if let Ok(h) = url::Host::parse(&format!("{id}{CHAINING_SUFFIX}")) {
                        out.push(Entry {
                            host: HostPattern::Exact(h),
                            ..e.clone()
                        });
                    }
                }
            }
            _ => out.push(e),
        }
    }
    out
}

fn parse_entry(entry: &str) -> Result<Entry, String> {
    let entry = entry.trim();
    if entry == "self" {
        return Err(
            "`self` is not an entry: write `http://self` (Spin's v2 manifests need a scheme)"
                .into(),
        );
    }
    if entry == "insecure:allow-all" {
        return Err("`insecure:allow-all` is not allowed (Spin refuses it)".into());
    }
    let (scheme, rest) = entry
        .split_once("://")
        .ok_or("expected `scheme://host[:port]` (e.g. `https://example.com`)")?;
    if scheme.is_empty() {
        return Err("missing scheme".into());
    }
    if scheme != "*" && !scheme.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(format!(
            "invalid scheme `{scheme}`: only alphabetic characters are allowed"
        ));
    }
    if scheme != "*" && scheme.chars().any(|c| c.is_ascii_uppercase()) {
        // Spin compares the scheme as written with the URL's (lower-case) scheme, so
        // such an entry would silently allow nothing there.
        return Err(format!(
            "invalid scheme `{scheme}`: write it in lower case (Spin compares schemes as written, so it would match nothing)"
        ));
    }
    let scheme = scheme.to_owned();
    let scheme = scheme.as_str();
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('/') || rest.contains('?') || rest.contains('#') {
        return Err("entries name a host, not a path".into());
    }
    if rest.contains('@') {
        return Err("entries must not contain user information".into());
    }
    let (host, port) = split_host_port(rest)?;
    if host.is_empty() {
        return Err("missing host".into());
    }
    let host_pattern = if host == "*" {
        HostPattern::Any
    } else if host == "self" {
        HostPattern::SelfApp
    } else if let Some(suffix) = host.strip_prefix("*.") {
        if suffix.is_empty() || suffix.contains('*') {
            return Err(format!("invalid wildcard host `{host}`"));
        }
        // As Spin 4.x: the suffix must be a domain (an IP address never matches one).
        match url::Host::parse(suffix) {
            Ok(url::Host::Domain(d)) => HostPattern::Subdomain(format!(".{d}")),
            _ => {
                return Err(format!(
                    "invalid wildcard host `{host}`: the suffix must be a domain name"
                ))
            }
        }
    } else if host.contains('*') {
        return Err(format!(
            "invalid host `{host}`: `*` may only be the whole host or a leading `*.`"
        ));
    } else {
        let parsed = if rest.starts_with('[') {
            host.parse::<std::net::Ipv6Addr>()
                .map(url::Host::Ipv6)
                .map_err(|e| e.to_string())
        } else {
            url::Host::parse(host).map_err(|e| e.to_string())
        };
        HostPattern::Exact(parsed.map_err(|e| format!("invalid host `{host}`: {e}"))?)
    };
    if rest.starts_with('[') && port.is_none() {
        // Spin 3.6 splits the port off at the last `:`, inside the brackets.
        return Err(format!(
            "an IPv6 host needs an explicit port (`{scheme}://[{host}]:port`): Spin 3.6 cannot parse it without one"
        ));
    }
    let ports = match port {
        Some("*") => PortPattern::Any,
        Some(p) => match p.split_once("..") {
            Some((lo, hi)) => {
                let lo: u16 = lo.parse().map_err(|_| format!("invalid port `{lo}`"))?;
                let hi: u16 = hi.parse().map_err(|_| format!("invalid port `{hi}`"))?;
                if lo >= hi {
                    return Err(format!("empty port range `{p}` (ranges are end-exclusive)"));
                }
                PortPattern::Range(lo, hi - 1)
            }
            None => {
                let n: u16 = p.parse().map_err(|_| format!("invalid port `{p}`"))?;
                PortPattern::Range(n, n)
            }
        },
        None if host_pattern == HostPattern::SelfApp => PortPattern::Any,
        None => {
            if scheme == "*" {
                return Err("a port is required when the scheme is `*` (use `*://host:*`)".into());
            }
            let n = default_port(scheme).ok_or_else(|| {
                format!("no default port for scheme `{scheme}`: give one (`{scheme}://host:port`)")
            })?;
            PortPattern::Range(n, n)
        }
    };
    Ok(Entry {
        scheme: (scheme != "*").then(|| scheme.to_owned()),
        host: host_pattern,
        ports,
    })
}

fn split_host_port(s: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("unclosed `[` in IPv6 host")?;
        return match after.strip_prefix(':') {
            Some(p) => Ok((host, Some(p))),
            None if after.is_empty() => Ok((host, None)),
            None => Err(format!("unexpected `{after}` after IPv6 host")),
        };
    }
    match s.rsplit_once(':') {
        Some((h, p)) => Ok((h, Some(p))),
        None => Ok((s, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_hosts_use_default_ports() {
        let a =
            AllowedHosts::parse_literal(&["https://example.com", "postgres://127.0.0.1"]).unwrap();
        assert!(a.allows("https", "example.com", None));
        assert!(
            a.allows("https", "EXAMPLE.com", None),
            "hosts are case-folded"
        );
        assert!(a.allows("https", "example.com", Some(443)));
        assert!(!a.allows("https", "example.com", Some(8443)));
        assert!(!a.allows("http", "example.com", None));
        assert!(!a.allows("https", "evil.example.com", None));
        assert!(!a.allows("https", "example.com.evil.net", None));
        assert!(a.allows("postgres", "127.0.0.1", Some(5432)));
        assert!(!a.allows("postgres", "127.0.0.1", Some(5433)));
    }

    #[test]
    fn a_trailing_dot_is_another_host_as_in_spin() {
        let a = AllowedHosts::parse_literal(&["https://example.com"]).unwrap();
        assert!(a.allows("https", "example.com", None), "control");
        assert!(!a.allows("https", "example.com.", None));
        let dotted = AllowedHosts::parse_literal(&["https://example.com."]).unwrap();
        assert!(dotted.allows("https", "example.com.", None));
        assert!(!dotted.allows("https", "example.com", None));
    }

    #[test]
    fn only_spins_well_known_ports() {
        // Spin has no default port for `rediss` or `postgresql`: an entry without a port
        // is refused, and a URL without one matches only an entry allowing any port.
        for bad in ["rediss://cache.example", "postgresql://db.example"] {
            let err = AllowedHosts::parse_literal(&[bad]).unwrap_err();
            assert!(err.contains("no default port"), "{bad}: {err}");
        }
        let a =
            AllowedHosts::parse_literal(&["rediss://cache.example:6380", "redis://r:*"]).unwrap();
        assert!(a.allows("rediss", "cache.example", Some(6380)), "control");
        assert!(!a.allows("rediss", "cache.example", None));
        assert!(
            a.allows("redis", "r", None),
            "any port allows the default one"
        );
        assert!(a.allows("redis", "r", Some(7000)));
    }

    #[test]
    fn schemes_are_compared_as_written() {
        let err = AllowedHosts::parse_literal(&["HTTPS://example.com"]).unwrap_err();
        assert!(err.contains("lower case"), "{err}");
        let a = AllowedHosts::parse_literal(&["https://example.com"]).unwrap();
        assert!(!a.allows("HTTPS", "example.com", None));
        assert!(a.allows("https", "example.com", None), "control");
    }

    #[test]
    fn wildcards_and_ranges() {
        let a = AllowedHosts::parse_literal_for(
            &[
                "http://*.spin.internal",
                "redis://localhost:*",
                "*://127.0.0.1:8000..8010",
                "https://*.example.com",
            ],
            &["tasks", "orgs"],
        )
        .unwrap();
        assert!(a.allows_component("tasks"));
        assert!(a.allows_component("orgs"));
        assert!(
            !a.allows_component("ghost"),
            "the wildcard allows the app's components only"
        );
        assert!(!a.allows("http", "spin.internal", None));
        assert!(!a.allows("https", "tasks.spin.internal", None));
        assert!(a.allows("redis", "localhost", Some(1234)));
        assert!(a.allows("http", "127.0.0.1", Some(8005)));
        assert!(a.allows("postgres", "127.0.0.1", Some(8000)));
        assert!(a.allows("http", "127.0.0.1", Some(8009)));
        assert!(
            !a.allows("http", "127.0.0.1", Some(8010)),
            "ranges are end-exclusive"
        );
        assert!(a.allows("https", "a.b.example.com", None));
        assert!(!a.allows("https", "example.com", None));
        // A subdomain wildcard matches domains only.
        let err = AllowedHosts::parse_literal(&["https://*.0.0.1"]).unwrap_err();
        assert!(err.contains("must be a domain"), "{err}");
    }

    #[test]
    fn one_component_only() {
        let a = AllowedHosts::parse_literal(&["http://tasks.spin.internal"]).unwrap();
        assert!(a.allows_component("tasks"));
        assert!(!a.allows_component("admin"));
        assert!(AllowedHosts::default().is_empty());
        assert!(!AllowedHosts::default().allows_component("tasks"));
        assert_eq!(
            a.unknown_chaining_targets(&["orgs".to_owned()]),
            ["tasks"],
            "a literal entry naming no component is reported"
        );
        assert!(a.unknown_chaining_targets(&["tasks".to_owned()]).is_empty());
    }

    #[test]
    fn chaining_targets_are_case_sensitive_as_in_spin() {
        assert_eq!(chaining_target("tasks.spin.internal"), Some("tasks"));
        assert_eq!(chaining_target("tasks.spin.internal:8080"), Some("tasks"));
        assert_eq!(chaining_target("tasks.SPIN.internal"), None);
        assert_eq!(chaining_target("a.b.spin.internal"), None);
        assert_eq!(chaining_target("spin.internal"), None);
    }

    #[test]
    fn invalid_entries_are_refused_with_reasons() {
        for (bad, why) in [
            ("example.com", "scheme://"),
            ("https://example.com/path", "path"),
            ("*://example.com", "port is required"),
            ("foo://example.com", "no default port"),
            ("https://ex*ample.com", "`*`"),
            ("https://example.com:99999", "invalid port"),
            ("https://u@example.com", "user information"),
            ("h2c://example.com:80", "alphabetic"),
            ("http://example.com:80..80", "empty port range"),
            ("https://exa mple.com", "invalid host"),
            ("http://[::1]", "explicit port"),
            ("self", "http://self"),
            ("insecure:allow-all", "not allowed"),
        ] {
            let err = AllowedHosts::parse_literal(&[bad]).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
        let v6 = AllowedHosts::parse_literal(&["http://[::1]:8080"]).unwrap();
        assert!(v6.allows("http", "[::1]", Some(8080)), "control");
        assert!(v6.allows("http", "::1", Some(8080)));
    }

    #[test]
    fn self_entries() {
        let a = AllowedHosts::parse_literal(&["http://self"]).unwrap();
        assert!(a.allows_self());
        assert!(!a.allows("http", "self", None));
    }
}
