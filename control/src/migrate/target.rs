//! Migration targets: the control plane, each database a placement uses, and each tenant placement,
//! keyed as `tenantgate.schema_migrations.placement` records them; and the canary's selection of
//! placements (isolated tenants first, then shared ones, each by slug).

use std::collections::BTreeMap;

use tokio_postgres::Client;

use super::Scope;
use crate::contract::valid_schema_name;
use crate::db::Database;
use crate::error::{Error, Result};
use crate::report::Doing as _;

/// A place migrations are applied to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The key recorded in `schema_migrations.placement`.
    pub key: String,
    /// Which database.
    pub database: Database,
    /// Which files.
    pub scope: Scope,
    /// `search_path` for tenant files.
    pub schema: Option<String>,
    /// Slugs of the tenants living there (tenant targets).
    pub tenants: Vec<String>,
}

impl Target {
    /// The control-plane targets.
    pub(crate) fn control() -> [Target; 2] {
        [
            Target::database(Database::Control),
            Target {
                key: "control".into(),
                database: Database::Control,
                scope: Scope::Control,
                schema: None,
                tenants: vec![],
            },
        ]
    }

    /// The `database`-scope target of `db`.
    pub fn database(db: Database) -> Target {
        Target {
            key: format!("database:{db}"),
            database: db,
            scope: Scope::Database,
            schema: None,
            tenants: vec![],
        }
    }

    /// The tenant-data target of a placement.
    pub fn placement(placement: &str, db: Database, schema: Option<String>) -> Result<Target> {
        let (key, schema) = match (placement, &db, schema) {
            ("shared", Database::Control, None) => ("shared".to_string(), "app".to_string()),
            ("schema", _, Some(s)) if valid_schema_name(&s) => (format!("schema:{db}/{s}"), s),
            ("dedicated", Database::Named(n), None) => {
                (format!("dedicated:{n}"), "app".to_string())
            }
            (p, d, s) => {
                return Err(Error::Inconsistent(format!(
                    "not a valid placement: {p} in database {d} with schema {s:?}"
                )))
            }
        };
        Ok(Target {
            key,
            database: db,
            scope: Scope::Tenant,
            schema: Some(schema),
            tenants: vec![],
        })
    }
}

/// The versions recorded for `key`, with their checksums.
pub async fn recorded(control: &Client, key: &str) -> Result<BTreeMap<String, String>> {
    let rows = control
        .query(
            "SELECT version, checksum FROM tenantgate.schema_migrations WHERE placement = $1",
            &[&key],
        )
        .await
        .doing("reading schema_migrations")?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Every tenant placement in the routing table, with its tenants. The shared placement is always there.
pub async fn placements(control: &Client) -> Result<Vec<Target>> {
    let rows = control
        .query(
            "SELECT p.placement, p.database_target, p.schema_name, t.slug \
               FROM tenantgate.tenant_placements AS p JOIN tenantgate.tenants AS t ON t.id = p.tenant_id \
              ORDER BY t.slug",
            &[],
        )
        .await
        .doing("reading the routing table")?;
    let mut by_key: BTreeMap<String, Target> = BTreeMap::new();
    let shared = Target::placement("shared", Database::Control, None)?;
    by_key.insert(shared.key.clone(), shared);
    for row in rows {
        let placement: String = row.get(0);
        let t = Target::placement(&placement, Database::from_target(row.get(1)), row.get(2))?;
        by_key
            .entry(t.key.clone())
            .or_insert(t)
            .tenants
            .push(row.get(3));
    }
    Ok(by_key.into_values().collect())
}

/// Splits placements into (selected, deferred) for a canary of `n` tenants.
pub(crate) fn select(placements: Vec<Target>, n: Option<usize>) -> (Vec<Target>, Vec<Target>) {
    let Some(n) = n else {
        // Everything: isolated placements first, the shared placement last.
        let (mut shared, mut isolated): (Vec<_>, Vec<_>) =
            placements.into_iter().partition(|t| t.key == "shared");
        isolated.sort_by(|a, b| a.tenants.first().cmp(&b.tenants.first()));
        isolated.append(&mut shared);
        return (isolated, vec![]);
    };
    // Tenants in rollout order: isolated placements first, then shared, each by slug.
    let mut order: Vec<(bool, String, usize)> = Vec::new();
    for (i, t) in placements.iter().enumerate() {
        for slug in &t.tenants {
            order.push((t.key == "shared", slug.clone(), i));
        }
    }
    order.sort();
    let mut chosen: Vec<usize> = Vec::new();
    for (_, _, i) in order.into_iter().take(n) {
        if !chosen.contains(&i) {
            chosen.push(i);
        }
    }
    let mut selected = Vec::new();
    let mut deferred = Vec::new();
    let mut by_index: Vec<Option<Target>> = placements.into_iter().map(Some).collect();
    for i in &chosen {
        selected.push(by_index[*i].take().expect("each index chosen once"));
    }
    deferred.extend(by_index.into_iter().flatten());
    (selected, deferred)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(key: &str, tenants: &[&str]) -> Target {
        Target {
            key: key.into(),
            database: Database::Control,
            scope: Scope::Tenant,
            schema: None,
            tenants: tenants.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn keys(ts: &[Target]) -> Vec<&str> {
        ts.iter().map(|t| t.key.as_str()).collect()
    }

    #[test]
    fn the_canary_widens_in_a_stable_order_isolated_tenants_first() {
        let all = || {
            vec![
                t("shared", &["acme", "beta"]),
                t("schema:control/tenant_zed", &["zed"]),
                t("dedicated:eu", &["globex"]),
            ]
        };
        let (s, d) = select(all(), Some(1));
        assert_eq!(keys(&s), ["dedicated:eu"]);
        assert_eq!(keys(&d), ["shared", "schema:control/tenant_zed"]);
        let (s, _) = select(all(), Some(2));
        assert_eq!(keys(&s), ["dedicated:eu", "schema:control/tenant_zed"]);
        let (s, d) = select(all(), Some(3));
        assert_eq!(
            keys(&s),
            ["dedicated:eu", "schema:control/tenant_zed", "shared"]
        );
        assert!(d.is_empty());
        let (s, d) = select(all(), None);
        assert_eq!(
            keys(&s),
            ["dedicated:eu", "schema:control/tenant_zed", "shared"]
        );
        assert!(d.is_empty());
        let (s, d) = select(all(), Some(0));
        assert!(s.is_empty());
        assert_eq!(d.len(), 3);
    }

    #[test]
    fn placement_keys_name_where_the_data_is() {
        let k =
            |p, db, s: Option<&str>| Target::placement(p, db, s.map(String::from)).map(|t| t.key);
        assert_eq!(k("shared", Database::Control, None).unwrap(), "shared");
        assert_eq!(
            k("schema", Database::Control, Some("tenant_a")).unwrap(),
            "schema:control/tenant_a"
        );
        assert_eq!(
            k("schema", Database::Named("eu".into()), Some("tenant_a")).unwrap(),
            "schema:eu/tenant_a"
        );
        assert_eq!(
            k("dedicated", Database::Named("eu".into()), None).unwrap(),
            "dedicated:eu"
        );
        assert!(k("schema", Database::Control, Some("public")).is_err());
        assert!(k("dedicated", Database::Control, None).is_err());
        assert!(k("shared", Database::Named("eu".into()), None).is_err());
    }
}
