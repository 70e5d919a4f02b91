//! From a context's placement to a connection string and a schema.

use std::collections::BTreeMap;

use tenant_contract::{ContextClaims, DatabaseTarget};

use crate::DbError;

/// Where one request's statements run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The connection string to open.
    pub address: String,
    /// The one schema on the `search_path` (`app` or `tenant_*`).
    pub schema: String,
}

/// The `search_path` of a control-plane transaction: nothing a caller could shadow; every name
/// in its statements is schema-qualified (`tenantgate.memberships`).
pub const CONTROL_SEARCH_PATH: &str = "pg_catalog, pg_temp";

/// The component's database configuration: the control-plane database and the named
/// database targets of the routing table.
#[derive(Debug, Clone)]
pub struct Databases {
    control: String,
    targets: BTreeMap<DatabaseTarget, String>,
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
            let invalid = || DbError::Config(format!("invalid database_targets entry {name:?}"));
            let target: DatabaseTarget = name.parse().map_err(|_| invalid())?;
            if url.is_empty() {
                return Err(invalid());
            }
            if map.insert(target, url.to_owned()).is_some() {
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

    /// The control-plane database (schema `tenantgate`: members, roles, audit, ...), whatever
    /// the tenant's placement, with [`CONTROL_SEARCH_PATH`].
    pub fn control_plane(&self) -> Target {
        Target {
            address: self.control.clone(),
            schema: CONTROL_SEARCH_PATH.to_owned(),
        }
    }

    /// Where the context's tenant lives. A `dedicated` or `schema` placement naming a
    /// target this component does not know is a configuration error (503), never a
    /// fall-back to the shared database. (Schema and target names were validated when the
    /// context was read.)
    pub fn target(&self, claims: &ContextClaims) -> Result<Target, DbError> {
        let address = match claims.placement.database_target() {
            None => self.control.clone(),
            Some(name) => self
                .targets
                .get(name)
                .cloned()
                .ok_or_else(|| DbError::Config(format!("unknown database target {name:?}")))?,
        };
        Ok(Target {
            address,
            schema: claims.placement.search_path().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The target for a context with these placement claims, read as a backend reads it.
    fn target(
        dbs: &Databases,
        plc: &str,
        db: Option<&str>,
        sch: Option<&str>,
    ) -> Result<Target, DbError> {
        let claims = serde_json::json!({
            "tid": "a0000000-0000-4000-8000-000000000001", "slug": "s", "plc": plc, "db": db,
            "sch": sch, "uid": null, "roles": [], "perms": [], "rid": "r", "exp": 0,
        });
        let token = crate::context::tests::encode(&claims.to_string());
        dbs.target(crate::TenantContext::parse(Some(&token))?.claims())
    }

    #[test]
    fn each_placement_gets_its_database_and_schema() {
        let dbs = Databases::new("pg://control", " big = pg://big , other=pg://other").unwrap();
        let t = target(&dbs, "shared", None, None).unwrap();
        assert_eq!(
            (t.address.as_str(), t.schema.as_str()),
            ("pg://control", "app")
        );
        let t = target(&dbs, "schema", None, Some("tenant_acme")).unwrap();
        assert_eq!(
            (t.address.as_str(), t.schema.as_str()),
            ("pg://control", "tenant_acme")
        );
        let t = target(&dbs, "schema", Some("other"), Some("tenant_x")).unwrap();
        assert_eq!(t.address, "pg://other");
        let t = target(&dbs, "dedicated", Some("big"), None).unwrap();
        assert_eq!((t.address.as_str(), t.schema.as_str()), ("pg://big", "app"));
    }

    #[test]
    fn the_control_plane_is_the_control_database_for_every_placement() {
        let dbs = Databases::new("pg://control", "big=pg://big").unwrap();
        let t = dbs.control_plane();
        assert_eq!(
            (t.address.as_str(), t.schema.as_str()),
            ("pg://control", "pg_catalog, pg_temp")
        );
        assert_eq!(
            target(&dbs, "dedicated", Some("big"), None)
                .unwrap()
                .address,
            "pg://big",
            "control: the tenant's data lives elsewhere"
        );
    }

    #[test]
    fn an_unknown_target_never_falls_back_to_the_shared_database() {
        let dbs = Databases::new("pg://control", "big=pg://big").unwrap();
        let err = target(&dbs, "dedicated", Some("gone"), None).unwrap_err();
        assert_eq!(err.status(), 503);
        assert!(matches!(
            target(&dbs, "dedicated", None, None),
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
                    target(&dbs, "schema", None, Some(bad)),
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
