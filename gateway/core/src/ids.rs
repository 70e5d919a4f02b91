//! Identities the gateway handles. The tenant contract's ids (tenant id, slug, host name,
//! role, permission, request id, schema and target names) are `tenant-contract`'s,
//! re-exported here; [`ComponentId`], a route's target, is the gateway's own.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use tenant_contract::ids::*;

/// A Spin component id (kebab-case), the target of a route:
/// `^[a-z][a-z0-9]*(-[a-z0-9]+)*$`, at most 64 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ComponentId(String);

fn is_component_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.as_bytes()[0].is_ascii_lowercase()
        && s.split('-').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

impl ComponentId {
    /// The validated value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ComponentId {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, InvalidId> {
        s.to_owned().try_into()
    }
}

impl TryFrom<String> for ComponentId {
    type Error = InvalidId;
    fn try_from(s: String) -> Result<Self, InvalidId> {
        if is_component_id(&s) {
            Ok(Self(s))
        } else {
            Err(InvalidId {
                kind: "component id",
            })
        }
    }
}

impl From<ComponentId> for String {
    fn from(v: ComponentId) -> String {
        v.0
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_ids_are_kebab_case() {
        for ok in ["tasks", "task-api", "a1-b2"] {
            assert!(ok.parse::<ComponentId>().is_ok(), "{ok}");
        }
        for bad in ["", "Tasks", "-a", "a-", "a--b", "a_b", "1a", "a.b"] {
            assert!(bad.parse::<ComponentId>().is_err(), "{bad}");
        }
    }
}
