//! From a context's placement to a connection string and a schema.

use std::collections::BTreeMap;

use crate::context::{Claims, PlacementKind};
use crate::DbError;

/// Where one request's statements run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The connection string to open.
    pub address: String,
    /// The one schema on the `search_path` (`app` or `tenant_*`).
    pub schema: String,
}

/// The component's database configuration: the control-plane database and the named
/// database targets of the routing table.
#[derive(Debug, Clone)]
pub struct Databases {
    control: String,
    targets: BTreeMap<String, String>,
}

impl Databases {
    /// Builds the configuration. `targets` is `name=url` pairs separated by commas
    /// (whitespace around them ignored; empty means none).
    ///
    /// Fails on an empty control URL, a pair without `=`, an invalid target name or a
    /// name given twice.
    pub fn new(control: &str, targets: &str) -> Result<Databases, DbError> {
        let control = control.trim();
        if control.is_empty() {
            return Err(DbError::Config("database_url is empty".into()));
        }
        let mut map = BTreeMap::new();
        for pair in targets.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, url) = pair.split_once('=').ok_or_else(|| {
                DbError::Config("database_targets entry without '=' (expected name=url)".into())
            })?;
            let (name, url) = (name.trim(), url.trim());
            if !valid_target_name(name) || url.is_empty() {
                return Err(DbError::Config(format!(
                    "invalid database_targets entry {name:?}"
                )));
            }
            if map.insert(name.to_owned(), url.to_owned()).is_some() {
                return Err(DbError::Config(format!(
                    "database target {name:?} given twice"
                )));
            }
        }
        Ok(Databases {
            control: control.to_owned(),
            targets: map,
        })
    }

    /// Reads the Spin variables `database_url` and `database_targets` (the latter may be
    /// undeclared or empty).
    pub fn from_variables() -> Result<Databases, DbError> {
        let control = spin_sdk::variables::get("database_url")
            .map_err(|e| DbError::Config(format!("variable database_url: {e}")))?;
        let targets = spin_sdk::variables::get("database_targets").unwrap_or_default();
        Databases::new(&control, &targets)
    }

    /// Where the context's tenant lives. A `dedicated` or `schema` placement naming a
    /// target this component does not know is a configuration error (503), never a
    /// fall-back to the shared database.
    pub fn target(&self, claims: &Claims) -> Result<Target, DbError> {
        let named = |name: &str| {
            self.targets
                .get(name)
                .cloned()
                .ok_or_else(|| DbError::Config(format!("unknown database target {name:?}")))
        };
        match claims.plc {
            PlacementKind::Shared => Ok(Target {
                address: self.control.clone(),
                schema: "app".into(),
            }),
            PlacementKind::Schema => {
                let schema = claims
                    .sch
                    .as_deref()
                    .filter(|s| valid_tenant_schema(s))
                    .ok_or(DbError::BadContext)?;
                let address = match claims.db.as_deref() {
                    Some(name) => named(name)?,
                    None => self.control.clone(),
                };
                Ok(Target {
                    address,
                    schema: schema.to_owned(),
                })
            }
            PlacementKind::Dedicated => {
                let name = claims.db.as_deref().ok_or(DbError::BadContext)?;
                Ok(Target {
                    address: named(name)?,
                    schema: "app".into(),
                })
            }
        }
    }
}

/// The routing table's target-name format.
fn valid_target_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

/// `tenant_[a-z0-9_]{1,56}`: the only schema names a `schema` placement may use, which
/// also makes them safe to splice into `SET LOCAL search_path`.
pub(crate) fn valid_tenant_schema(name: &str) -> bool {
    name.strip_prefix("tenant_").is_some_and(|rest| {
        (1..=56).contains(&rest.len())
            && rest
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(plc: PlacementKind, db: Option<&str>, sch: Option<&str>) -> Claims {
        Claims {
            tid: "t".into(),
            slug: "s".into(),
            plc,
            db: db.map(Into::into),
            sch: sch.map(Into::into),
            uid: None,
            roles: vec![],
            perms: vec![],
            rid: String::new(),
            exp: 0,
            ro: false,
        }
    }

    #[test]
    fn each_placement_gets_its_database_and_schema() {
        let dbs = Databases::new("pg://control", " big = pg://big , other=pg://other").unwrap();
        let t = dbs
            .target(&claims(PlacementKind::Shared, None, None))
            .unwrap();
        assert_eq!(
            (t.address.as_str(), t.schema.as_str()),
            ("pg://control", "app")
        );
        let t = dbs
            .target(&claims(PlacementKind::Schema, None, Some("tenant_acme")))
            .unwrap();
        assert_eq!(
            (t.address.as_str(), t.schema.as_str()),
            ("pg://control", "tenant_acme")
        );
        let t = dbs
            .target(&claims(
                PlacementKind::Schema,
                Some("other"),
                Some("tenant_x"),
            ))
            .unwrap();
        assert_eq!(t.address, "pg://other");
        let t = dbs
            .target(&claims(PlacementKind::Dedicated, Some("big"), None))
            .unwrap();
        assert_eq!((t.address.as_str(), t.schema.as_str()), ("pg://big", "app"));
    }

    #[test]
    fn an_unknown_target_never_falls_back_to_the_shared_database() {
        let dbs = Databases::new("pg://control", "big=pg://big").unwrap();
        let err = dbs
            .target(&claims(PlacementKind::Dedicated, Some("gone"), None))
            .unwrap_err();
        assert_eq!(err.status(), 503);
        assert!(matches!(
            dbs.target(&claims(PlacementKind::Dedicated, None, None)),
            Err(DbError::BadContext)
        ));
    }

    #[test]
    fn schema_names_outside_the_tenant_pattern_are_refused() {
        let dbs = Databases::new("pg://control", "").unwrap();
        for bad in [
            "app",
            "public",
            "tenant_",
            "tenant_A",
            "tenant_x;drop",
            "tenant_x,public",
            "pg_catalog",
        ] {
            assert!(
                matches!(
                    dbs.target(&claims(PlacementKind::Schema, None, Some(bad))),
                    Err(DbError::BadContext)
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn invalid_configuration_is_refused() {
        assert!(Databases::new("", "").is_err());
        assert!(Databases::new("pg://c", "novalue").is_err());
        assert!(Databases::new("pg://c", "Bad=pg://x").is_err());
        assert!(Databases::new("pg://c", "a=pg://x,a=pg://y").is_err());
        assert!(Databases::new("pg://c", "a=").is_err());
    }
}
