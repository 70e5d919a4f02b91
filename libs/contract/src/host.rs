//! Host normalisation (docs/architecture.md §3): the one place a `Host` header becomes a [`Hostname`].
//!
//! [`normalise_host`] takes every `Host` value the request carried and its parsed
//! [`RequestTarget`], and either returns the canonical name or says exactly why not:
//!
//! - lower case, one trailing dot stripped, an accepted port (default 80 and 443, plus any
//!   configured local port) stripped, IDNA to ASCII (UTS-46, STD3 rules);
//! - refused: no or empty `Host`, more than one `Host`, userinfo, IP literals (IPv4 in every
//!   form a URL parser accepts, such as `127.1`, `0x7f.0.0.1` or `2130706433`, and any
//!   bracketed IPv6), other ports, control characters or spaces, labels over 63 bytes or a
//!   name over 253, and a `Host` that disagrees with an absolute-form request target.
//!
//! Normalisation is idempotent: a [`Hostname`] given back as a `Host` value normalises to
//! itself (a property test checks it).

use std::borrow::Cow;
use std::str::FromStr;

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};

pub use crate::ids::looks_like_ipv4;
use crate::ids::Hostname;

/// Which ports a `Host` may name. A port in this set is stripped; any other port is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostConfig {
    accepted_ports: Vec<u16>,
}

impl HostConfig {
    /// Accepts 80 and 443 plus `extra` (for example the local port `3000`).
    pub fn with_ports(extra: &[u16]) -> Self {
        let mut accepted_ports = vec![80, 443];
        accepted_ports.extend_from_slice(extra);
        Self { accepted_ports }
    }
}

impl Default for HostConfig {
    /// Accepts ports 80 and 443 only.
    fn default() -> Self {
        Self::with_ports(&[])
    }
}

/// Why a request's host was refused. Every variant answers 400 `invalid_host`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// Neither a `Host` header nor an absolute-form target names a host.
    #[error("no Host header")]
    Missing,
    /// A `Host` header or authority is empty.
    #[error("empty host")]
    Empty,
    /// More than one `Host` header.
    #[error("duplicate Host header")]
    Duplicate,
    /// Control characters, spaces, invalid UTF-8 or characters a host name cannot hold.
    #[error("invalid character in host")]
    InvalidCharacter,
    /// `user@host` or `user:pass@host`.
    #[error("userinfo in host")]
    Userinfo,
    /// An IPv4 or IPv6 literal: tenants are reached by name only.
    #[error("IP literal host")]
    IpLiteral,
    /// A port outside the accepted set.
    #[error("port not accepted")]
    Port,
    /// A port that is not a decimal number in 1..=65535 without leading zeros.
    #[error("malformed port")]
    MalformedPort,
    /// An empty label (`a..b`, a leading dot, two trailing dots).
    #[error("empty label in host")]
    EmptyLabel,
    /// A label longer than 63 bytes after IDNA.
    #[error("host label too long")]
    LabelTooLong,
    /// A name longer than 253 bytes after IDNA.
    #[error("host name too long")]
    NameTooLong,
    /// The `Host` header and the absolute-form target name different hosts.
    #[error("Host header disagrees with the request target")]
    TargetMismatch,
    /// The request target is neither origin-form (`/path`) nor `http(s)://` absolute-form.
    #[error("malformed request target")]
    BadTarget,
}

/// A parsed request target: the authority of an absolute-form target, if any, and the
/// path with its query (always starting with `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTarget {
    authority: Option<String>,
    path_and_query: String,
}

impl RequestTarget {
    /// Parses origin-form (`/x?y`) or absolute-form (`http://h/x`, `https://h`) targets.
    ///
    /// Fails with [`HostError::BadTarget`] on anything else (asterisk-form, authority-form,
    /// other schemes, a fragment, control characters or spaces).
    pub fn parse(target: &str) -> Result<Self, HostError> {
        if target.bytes().any(|b| b <= b' ' || b == 0x7f || b == b'#') {
            return Err(HostError::BadTarget);
        }
        if target.starts_with('/') {
            return Ok(Self {
                authority: None,
                path_and_query: target.to_owned(),
            });
        }
        let rest = strip_prefix_ci(target, "http://")
            .or_else(|| strip_prefix_ci(target, "https://"))
            .ok_or(HostError::BadTarget)?;
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        let path_and_query = match path.as_bytes().first() {
            None => "/".to_owned(),
            Some(b'?') => format!("/{path}"),
            Some(_) => path.to_owned(),
        };
        Ok(Self {
            authority: Some(authority.to_owned()),
            path_and_query,
        })
    }

    /// The path and query to route and forward, starting with `/`.
    pub fn path_and_query(&self) -> &str {
        &self.path_and_query
    }

    /// The path alone (before any `?`).
    pub fn path(&self) -> &str {
        self.path_and_query.split('?').next().unwrap_or("/")
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Normalises the request's host from all its `Host` values and its target.
///
/// Exactly one `Host` value is required, unless the target is absolute-form and no `Host`
/// was sent, in which case the target's authority is used. When both are present they must
/// normalise to the same name.
pub fn normalise_host(
    host_values: &[&[u8]],
    target: &RequestTarget,
    config: &HostConfig,
) -> Result<Hostname, HostError> {
    let from_target = target
        .authority
        .as_deref()
        .map(|a| normalise_authority(a.as_bytes(), config))
        .transpose()?;
    match (host_values, from_target) {
        ([], None) => Err(HostError::Missing),
        ([], Some(h)) => Ok(h),
        ([one], from_target) => {
            let host = normalise_authority(one, config)?;
            match from_target {
                Some(t) if t != host => Err(HostError::TargetMismatch),
                _ => Ok(host),
            }
        }
        _ => Err(HostError::Duplicate),
    }
}

/// Normalises a bare host name, such as a custom domain as a person types it
/// (`Portal.Acme.com.`, `bücher.example`): the rules of a `Host` value, with no port
/// accepted. The control plane stores custom domains in this form, so a stored domain and
/// a request's host compare equal exactly when the gateway would route one to the other.
pub fn normalise_name(name: &str) -> Result<Hostname, HostError> {
    normalise_authority(
        name.as_bytes(),
        &HostConfig {
            accepted_ports: Vec::new(),
        },
    )
}

/// Normalises one authority (`name[:port]`) to a [`Hostname`].
pub fn normalise_authority(raw: &[u8], config: &HostConfig) -> Result<Hostname, HostError> {
    if raw.is_empty() {
        return Err(HostError::Empty);
    }
    if raw.iter().any(|&b| b <= b' ' || b == 0x7f) {
        return Err(HostError::InvalidCharacter);
    }
    let raw = std::str::from_utf8(raw).map_err(|_| HostError::InvalidCharacter)?;
    if raw.contains('@') {
        return Err(HostError::Userinfo);
    }
    if raw.starts_with('[') {
        return Err(HostError::IpLiteral);
    }
    let name = match raw.rsplit_once(':') {
        Some((name, _)) if name.contains(':') => return Err(HostError::IpLiteral),
        Some((name, port)) => {
            let valid = (1..=5).contains(&port.len())
                && !port.starts_with('0')
                && port.bytes().all(|b| b.is_ascii_digit());
            let port: u16 = match port.parse() {
                Ok(p) if valid => p,
                _ => return Err(HostError::MalformedPort),
            };
            if !config.accepted_ports.contains(&port) {
                return Err(HostError::Port);
            }
            name
        }
        None => raw,
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Err(HostError::Empty);
    }
    if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        return Err(HostError::EmptyLabel);
    }
    let ascii = to_ascii(name)?;
    if ascii.split('.').any(|l| l.is_empty()) {
        return Err(HostError::EmptyLabel);
    }
    if ascii.split('.').any(|l| l.len() > 63) {
        return Err(HostError::LabelTooLong);
    }
    if ascii.len() > 253 {
        return Err(HostError::NameTooLong);
    }
    if looks_like_ipv4(&ascii) {
        return Err(HostError::IpLiteral);
    }
    Hostname::from_str(&ascii).map_err(|_| HostError::InvalidCharacter)
}

/// UTS-46 ToASCII with STD3 rules. Plain LDH names with no `xn--` label (the common case)
/// only need lower-casing, so they skip the IDNA machinery; anything else goes through it,
/// including punycode labels, which it validates.
fn to_ascii(name: &str) -> Result<Cow<'_, str>, HostError> {
    let ldh = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    let punycode = name.split('.').any(|l| {
        l.as_bytes()
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"xn--"))
    });
    if ldh && !punycode {
        let bad_hyphen = name
            .split('.')
            .any(|l| l.starts_with('-') || l.ends_with('-'));
        if bad_hyphen {
            return Err(HostError::InvalidCharacter);
        }
        return Ok(if name.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(name.to_ascii_lowercase())
        } else {
            Cow::Borrowed(name)
        });
    }
    Uts46::new()
        .to_ascii(
            name.as_bytes(),
            AsciiDenyList::STD3,
            Hyphens::CheckFirstLast,
            DnsLength::Ignore,
        )
        .map_err(|_| HostError::InvalidCharacter)
}

#[cfg(test)]
#[path = "host_tests.rs"]
mod tests;
