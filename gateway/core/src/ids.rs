//! Identities as newtypes, validated once at the edge.
//!
//! Every value here is checked when it is built ([`FromStr`], [`TryFrom<String>`], or a
//! `parse` constructor) and immutable afterwards, so a stage that receives a [`TenantSlug`]
//! never re-checks it and no bare `&str` travels between stages. `serde` goes through the
//! same checks: deserialising an invalid value fails.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a string was refused as an identifier. Carries the kind, never the input, so it is
/// safe to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}")]
pub struct InvalidId {
    /// Which identifier was being built (`"tenant id"`, `"slug"`, ...).
    pub kind: &'static str,
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $check:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The validated value.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                if $check(s) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(InvalidId { kind: $kind })
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(s: String) -> Result<Self, InvalidId> {
                if $check(&s) {
                    Ok(Self(s))
                } else {
                    Err(InvalidId { kind: $kind })
                }
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// A tenant's id: a UUID, shown in its canonical lower-case hyphenated form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(pub uuid::Uuid);

impl FromStr for TenantId {
    type Err = InvalidId;
    /// Accepts only the hyphenated form (36 characters), any case.
    fn from_str(s: &str) -> Result<Self, InvalidId> {
        if s.len() != 36 {
            return Err(InvalidId { kind: "tenant id" });
        }
        uuid::Uuid::parse_str(s)
            .map(TenantId)
            .map_err(|_| InvalidId { kind: "tenant id" })
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// A DNS label: `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`.
pub(crate) fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    (1..=63).contains(&b.len())
        && edge(b[0])
        && edge(b[b.len() - 1])
        && b.iter().all(|&c| edge(c) || c == b'-')
}

/// A lower-case name of the shape `[a-z][a-z0-9_]{0,62}`.
fn is_snake_name(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=63).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

fn is_permission(s: &str) -> bool {
    matches!(s.split_once('.'), Some((a, b)) if is_snake_name(a) && is_snake_name(b))
}

/// A normalised host name as produced by [`crate::host::normalise_host`]: ASCII, lower
/// case, no trailing dot, no port, labels of 1 to 63 LDH characters, at most 253 bytes,
/// not an IP literal. Only the normaliser and deserialisation build one.
fn is_hostname(s: &str) -> bool {
    (1..=253).contains(&s.len())
        && s.split('.').all(|l| {
            let b = l.as_bytes();
            (1..=63).contains(&b.len())
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
                && b.iter()
                    .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        })
        && !crate::host::looks_like_ipv4(s)
}

/// A Spin component id: kebab-case, `^[a-z][a-z0-9]*(-[a-z0-9]+)*$`, at most 64 bytes.
fn is_component_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.as_bytes()[0].is_ascii_lowercase()
        && s.split('-').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

/// A request id: 1 to 128 characters of `[A-Za-z0-9._:-]`, safe in a header and in JSON.
fn is_request_id(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b':' | b'-'))
}

string_id!(
    /// A tenant's slug: one DNS label, `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`. Upper case is
    /// refused, not folded: hosts are lower-cased by the normaliser before a slug is taken.
    TenantSlug, "slug", is_dns_label
);
string_id!(
    /// A normalised host name (see [`crate::host`]); compare these, never raw `Host` values.
    Hostname, "hostname", is_hostname
);
string_id!(
    /// A role name within a tenant, `^[a-z][a-z0-9_]{0,62}$` (for example `owner`, `member`).
    RoleName, "role name", is_snake_name
);
string_id!(
    /// A permission, `resource.action`, each part `^[a-z][a-z0-9_]{0,62}$` (for example
    /// `tasks.write`).
    Permission, "permission", is_permission
);
string_id!(
    /// A Spin component id (kebab-case), the target of a route.
    ComponentId, "component id", is_component_id
);
string_id!(
    /// A request id, `[A-Za-z0-9._:-]{1,128}`, echoed in error bodies and the tenant context.
    RequestId, "request id", is_request_id
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_dns_label_rule() {
        for ok in ["a", "acme", "a-b", "0", "a1", &"a".repeat(63)] {
            assert!(ok.parse::<TenantSlug>().is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "Acme", "a_b", "a.b", "ä", &"a".repeat(64)] {
            assert!(bad.parse::<TenantSlug>().is_err(), "{bad}");
        }
    }

    #[test]
    fn permissions_need_exactly_resource_and_action() {
        assert!("tasks.write".parse::<Permission>().is_ok());
        for bad in [
            "tasks",
            "tasks.",
            ".write",
            "a.b.c",
            "Tasks.write",
            "1a.b",
            "a.b-c",
        ] {
            assert!(bad.parse::<Permission>().is_err(), "{bad}");
        }
    }

    #[test]
    fn component_ids_are_kebab_case() {
        for ok in ["tasks", "task-api", "a1-b2"] {
            assert!(ok.parse::<ComponentId>().is_ok(), "{ok}");
        }
        for bad in ["", "Tasks", "-a", "a-", "a--b", "a_b", "1a", "a.b"] {
            assert!(bad.parse::<ComponentId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn tenant_ids_are_hyphenated_uuids_and_display_lower_case() {
        let id: TenantId = "0B3A6F2E-51B7-4C9D-8E1F-0123456789AB".parse().unwrap();
        assert_eq!(id.to_string(), "0b3a6f2e-51b7-4c9d-8e1f-0123456789ab");
        assert!("0b3a6f2e51b74c9d8e1f0123456789ab"
            .parse::<TenantId>()
            .is_err());
        assert!("acme".parse::<TenantId>().is_err());
    }

    #[test]
    fn deserialising_validates() {
        assert!(serde_json::from_str::<TenantSlug>("\"acme\"").is_ok());
        assert!(serde_json::from_str::<TenantSlug>("\"ACME\"").is_err());
        assert!(serde_json::from_str::<Hostname>("\"127.0.0.1\"").is_err());
        assert!(serde_json::from_str::<RequestId>("\"a b\"").is_err());
    }
}
