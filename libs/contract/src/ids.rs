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

/// A tenant's id: a UUID, held (and shown) in its canonical lower-case hyphenated form.
///
/// It is `Copy` (36 bytes) and dereferences to that text, so it can be compared with a
/// database's `uuid::text` and bound as a string parameter without allocating.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId([u8; 36]);

impl TenantId {
    /// The canonical text (`0b3a6f2e-51b7-4c9d-8e1f-0123456789ab`).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("a TenantId holds ASCII")
    }

    /// The id as a [`uuid::Uuid`].
    pub fn uuid(&self) -> uuid::Uuid {
        uuid::Uuid::parse_str(self.as_str()).expect("a TenantId holds a valid uuid")
    }
}

impl From<uuid::Uuid> for TenantId {
    fn from(u: uuid::Uuid) -> Self {
        let mut buf = [0u8; 36];
        u.hyphenated().encode_lower(&mut buf);
        TenantId(buf)
    }
}

impl From<TenantId> for uuid::Uuid {
    fn from(id: TenantId) -> Self {
        id.uuid()
    }
}

impl std::ops::Deref for TenantId {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl FromStr for TenantId {
    type Err = InvalidId;
    /// Accepts only the hyphenated form (36 characters), any case; stores it lower-cased.
    fn from_str(s: &str) -> Result<Self, InvalidId> {
        if s.len() != 36 {
            return Err(InvalidId { kind: "tenant id" });
        }
        uuid::Uuid::parse_str(s)
            .map(TenantId::from)
            .map_err(|_| InvalidId { kind: "tenant id" })
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantId({})", self.as_str())
    }
}

impl Serialize for TenantId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TenantId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Labels under the apex that are never tenant slugs (the control plane's
/// `tenants_slug_not_reserved` constraint holds the same list).
pub const RESERVED_LABELS: &[&str] = &[
    "www", "api", "admin", "app", "auth", "login", "sso", "static", "assets", "status", "mail",
];

/// A DNS label: `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`.
pub fn is_dns_label(s: &str) -> bool {
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
        && !looks_like_ipv4(s)
}

/// True when a URL parser would read `name` as an IPv4 address: its last label is all
/// decimal digits, or `0x` followed by hex digits (WHATWG "ends in a number"). This
/// catches `127.0.0.1`, `127.1`, `2130706433`, `0x7f.0.0.1` and `0177.0.0.1`.
pub fn looks_like_ipv4(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    let last = name.rsplit('.').next().unwrap_or("");
    if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    let hex = last
        .get(..2)
        .filter(|p| p.eq_ignore_ascii_case("0x"))
        .map(|_| &last[2..]);
    hex.is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A database target's name, as `tenant_placements.database_target` requires:
/// `^[a-z0-9][a-z0-9_-]{0,62}$` (a name resolved by runtime configuration, never a URL).
fn is_target_name(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=63).contains(&b.len())
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

/// A tenant schema's name, `^tenant_[a-z0-9_]{1,56}$` (`tenant_placements.schema_name`):
/// the only names a `schema` placement may use, which also makes them safe to splice into
/// `SET LOCAL search_path`.
fn is_schema_name(s: &str) -> bool {
    s.strip_prefix("tenant_").is_some_and(|rest| {
        (1..=56).contains(&rest.len())
            && rest
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
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

impl TenantSlug {
    /// Whether the slug is one of [`RESERVED_LABELS`] (never a tenant; a new tenant may not
    /// take it).
    pub fn is_reserved(&self) -> bool {
        RESERVED_LABELS.contains(&self.as_str())
    }
}

impl SchemaName {
    /// The default schema of a tenant placed in a schema of its own: `tenant_<slug>` with
    /// `-` as `_` (`None` when the slug is too long for the 56-character limit).
    pub fn for_slug(slug: &TenantSlug) -> Option<SchemaName> {
        format!("tenant_{}", slug.as_str().replace('-', "_"))
            .parse()
            .ok()
    }
}
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
    /// A database target's name (`eu-1`), resolved to a connection string by whoever
    /// connects: `^[a-z0-9][a-z0-9_-]{0,62}$`.
    DatabaseTarget, "database target", is_target_name
);
string_id!(
    /// A tenant schema's name, `^tenant_[a-z0-9_]{1,56}$`.
    SchemaName, "schema name", is_schema_name
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
    fn schema_and_target_names_follow_the_routing_table() {
        for ok in [
            "tenant_a",
            "tenant_acme_2",
            &format!("tenant_{}", "a".repeat(56)),
        ] {
            assert!(ok.parse::<SchemaName>().is_ok(), "{ok}");
        }
        for bad in [
            "app",
            "public",
            "tenant_",
            "tenant_A",
            "tenant_x;drop",
            "tenant_x,public",
            "pg_catalog",
            &format!("tenant_{}", "a".repeat(57)),
        ] {
            assert!(bad.parse::<SchemaName>().is_err(), "{bad}");
        }
        for ok in ["eu", "eu-1", "0a_b"] {
            assert!(ok.parse::<DatabaseTarget>().is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Bad",
            "-a",
            "_a",
            "a b",
            "postgres://x",
            &"a".repeat(64),
        ] {
            assert!(bad.parse::<DatabaseTarget>().is_err(), "{bad}");
        }
        let slug: TenantSlug = "big-co".parse().unwrap();
        assert_eq!(
            SchemaName::for_slug(&slug).unwrap().as_str(),
            "tenant_big_co"
        );
    }

    #[test]
    fn reserved_labels_are_not_tenants() {
        assert!("www".parse::<TenantSlug>().unwrap().is_reserved());
        assert!(!"acme".parse::<TenantSlug>().unwrap().is_reserved());
    }

    #[test]
    fn tenant_ids_are_hyphenated_uuids_and_display_lower_case() {
        let id: TenantId = "0B3A6F2E-51B7-4C9D-8E1F-0123456789AB".parse().unwrap();
        assert_eq!(id.to_string(), "0b3a6f2e-51b7-4c9d-8e1f-0123456789ab");
        assert_eq!(&*id, "0b3a6f2e-51b7-4c9d-8e1f-0123456789ab");
        assert_eq!(TenantId::from(id.uuid()), id);
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"0b3a6f2e-51b7-4c9d-8e1f-0123456789ab\""
        );
        assert!(serde_json::from_str::<TenantId>("\"x\"").is_err());
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
