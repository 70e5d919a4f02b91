//! `allowed_outbound_hosts`: which network destinations a component may reach.
//!
//! Entries follow Spin's syntax: `scheme://host[:port]` where each part may be `*`,
//! the host may be `*.example.com` (any subdomain), the port may be a range
//! `8000..8010` (end-exclusive, as in Spin), and a missing port means the scheme's
//! well-known port. `{{ var }}`
//! templates are resolved from application variables at load time. `self` (or
//! `http://self`) allows requests back to the application itself.
//!
//! An empty list allows nothing. A request that no entry allows is refused before
//! any connection is made, and the guest sees the refusal as an error value.

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
    Exact(String),
    /// `*.example.com`: stored as `.example.com`; matches strict subdomains.
    Subdomain(String),
    SelfApp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PortPattern {
    Any,
    Range(u16, u16),
}

/// The parsed allow-list of one component.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    entries: Vec<Entry>,
}

/// The well-known port of a scheme, used when an entry or URL gives none.
pub fn default_port(scheme: &str) -> Option<u16> {
    Some(match scheme {
        "http" => 80,
        "https" => 443,
        "postgres" | "postgresql" => 5432,
        "redis" | "rediss" => 6379,
        "mysql" => 3306,
        "mqtt" => 1883,
        _ => return None,
    })
}

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

    /// Parses a component's entries, resolving templates against `vars`.
    pub fn parse(entries: &[String], vars: &ResolvedVariables) -> Result<AllowedHosts, String> {
        let mut out = Vec::new();
        for raw in entries {
            let t = Template::parse(raw)?;
            let text = vars.render(&t)?;
            out.push(parse_entry(&text).map_err(|e| format!("`{raw}`: {e}"))?);
        }
        Ok(AllowedHosts { entries: out })
    }

    /// Parses literal entries (no templates).
    pub fn parse_literal(entries: &[&str]) -> Result<AllowedHosts, String> {
        let mut out = Vec::new();
        for e in entries {
            out.push(parse_entry(e).map_err(|m| format!("`{e}`: {m}"))?);
        }
        Ok(AllowedHosts { entries: out })
    }

    /// Whether `scheme://host:port` is allowed. `host` must already be lower-case;
    /// `port` of `None` means the scheme's default.
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let Some(port) = port.or_else(|| default_port(scheme)) else {
            return false;
        };
        let host = host.trim_end_matches('.');
        self.entries.iter().any(|e| {
            e.scheme.as_deref().is_none_or(|s| s == scheme)
                && match &e.host {
                    HostPattern::Any => true,
                    HostPattern::Exact(h) => h == host,
                    HostPattern::Subdomain(suffix) => {
                        host.len() > suffix.len() && host.ends_with(suffix.as_str())
                    }
                    HostPattern::SelfApp => false,
                }
                && match e.ports {
                    PortPattern::Any => true,
                    PortPattern::Range(lo, hi) => (lo..=hi).contains(&port),
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

    /// Whether the list is empty (the component may reach nothing).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn parse_entry(entry: &str) -> Result<Entry, String> {
    let entry = entry.trim();
    if entry == "self" {
        return Ok(Entry {
            scheme: Some("http".into()),
            host: HostPattern::SelfApp,
            ports: PortPattern::Any,
        });
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
    let scheme = scheme.to_ascii_lowercase();
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
    let host = host.to_ascii_lowercase();
    let host_pattern = if host == "*" {
        HostPattern::Any
    } else if host == "self" {
        HostPattern::SelfApp
    } else if let Some(suffix) = host.strip_prefix("*.") {
        if suffix.is_empty() || suffix.contains('*') {
            return Err(format!("invalid wildcard host `{host}`"));
        }
        HostPattern::Subdomain(format!(".{suffix}"))
    } else if host.contains('*') {
        return Err(format!(
            "invalid host `{host}`: `*` may only be the whole host or a leading `*.`"
        ));
    } else {
        HostPattern::Exact(host.trim_end_matches('.').to_owned())
    };
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
        assert!(a.allows("https", "example.com", Some(443)));
        assert!(!a.allows("https", "example.com", Some(8443)));
        assert!(!a.allows("http", "example.com", None));
        assert!(!a.allows("https", "evil.example.com", None));
        assert!(!a.allows("https", "example.com.evil.net", None));
        assert!(a.allows("postgres", "127.0.0.1", Some(5432)));
        assert!(!a.allows("postgres", "127.0.0.1", Some(5433)));
    }

    #[test]
    fn wildcards_and_ranges() {
        let a = AllowedHosts::parse_literal(&[
            "http://*.spin.internal",
            "redis://localhost:*",
            "*://127.0.0.1:8000..8010",
        ])
        .unwrap();
        assert!(a.allows_component("tasks"));
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
    }

    #[test]
    fn one_component_only() {
        let a = AllowedHosts::parse_literal(&["http://tasks.spin.internal"]).unwrap();
        assert!(a.allows_component("tasks"));
        assert!(!a.allows_component("admin"));
        assert!(AllowedHosts::default().is_empty());
        assert!(!AllowedHosts::default().allows_component("tasks"));
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
        ] {
            let err = AllowedHosts::parse_literal(&[bad]).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn self_entries() {
        let a = AllowedHosts::parse_literal(&["self"]).unwrap();
        assert!(a.allows_self());
        assert!(!a.allows("http", "self", None));
        assert!(AllowedHosts::parse_literal(&["http://self"])
            .unwrap()
            .allows_self());
    }
}
