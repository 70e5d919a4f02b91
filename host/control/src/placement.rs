//! Placements: where a tenant's data lives (shared, a schema of its own, a dedicated database),
//! parsed from the command line and the routing table, and prepared for a tenant.
//!
//! A new placement is prepared before any routing entry names it (`prepare`: its database and
//! schema migrated, the context keys copied), and a schema or dedicated database holds one tenant
//! only (`ensure_free`). `tenant create` and `tenant move` both go through these two.

use std::fmt;

use tokio_postgres::{Client, GenericClient};
use uuid::Uuid;

use crate::contract_shim::valid_schema_name;
use crate::db::{self, Database, Targets};
use crate::error::{Error, Result};
use crate::migrate::{self, Migration, Target};
use crate::report::Doing as _;

/// Where a tenant's data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlacementSpec {
    /// Schema `app` of the control-plane database, with every other shared tenant.
    Shared,
    /// A schema of its own in `database`.
    Schema {
        /// The database holding the schema.
        database: Database,
        /// `tenant_*`.
        schema: String,
    },
    /// Schema `app` of a database of its own.
    Dedicated {
        /// The named target.
        database: String,
    },
}

impl PlacementSpec {
    /// From the command line: `kind` is shared|schema|dedicated; a schema placement defaults to
    /// `tenant_<slug>` in the control-plane database.
    pub fn parse(
        kind: &str,
        target: Option<&str>,
        schema: Option<&str>,
        slug: &str,
    ) -> Result<Self> {
        let invalid = |why: &str| Err(Error::InvalidPlacement(why.into()));
        match kind {
            "shared" => {
                if target.is_some() || schema.is_some() {
                    return invalid("the shared placement takes neither --database nor --schema");
                }
                Ok(PlacementSpec::Shared)
            }
            "schema" => {
                let schema = schema
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("tenant_{}", slug.replace('-', "_")));
                if !valid_schema_name(&schema) {
                    return Err(Error::InvalidPlacement(format!(
                        "schema {schema:?} must match ^tenant_[a-z0-9_]{{1,56}}$"
                    )));
                }
                Ok(PlacementSpec::Schema {
                    database: Database::from_target(target.map(str::to_string)),
                    schema,
                })
            }
            "dedicated" => {
                if schema.is_some() {
                    return invalid(
                        "a dedicated placement uses schema app; --schema does not apply",
                    );
                }
                let Some(database) = target else {
                    return invalid("a dedicated placement needs --database <target name>");
                };
                Ok(PlacementSpec::Dedicated {
                    database: database.to_string(),
                })
            }
            other => Err(Error::InvalidPlacement(format!(
                "placement {other:?} is not one of shared, schema, dedicated"
            ))),
        }
    }

    /// From the routing table's columns.
    pub(crate) fn from_row(
        placement: &str,
        target: Option<String>,
        schema: Option<String>,
    ) -> Result<Self> {
        Ok(match (placement, target, schema) {
            ("shared", None, None) => PlacementSpec::Shared,
            ("schema", t, Some(s)) => PlacementSpec::Schema {
                database: Database::from_target(t),
                schema: s,
            },
            ("dedicated", Some(t), None) => PlacementSpec::Dedicated { database: t },
            (p, t, s) => {
                return Err(Error::Inconsistent(format!(
                    "routing table holds an invalid placement: {p} {t:?} {s:?}"
                )))
            }
        })
    }

    /// `placement`, `database_target`, `schema_name` as the routing table stores them.
    pub(crate) fn columns(&self) -> (&'static str, Option<String>, Option<String>) {
        match self {
            PlacementSpec::Shared => ("shared", None, None),
            PlacementSpec::Schema { database, schema } => (
                "schema",
                database.target().map(str::to_string),
                Some(schema.clone()),
            ),
            PlacementSpec::Dedicated { database } => ("dedicated", Some(database.clone()), None),
        }
    }

    /// The database holding the data.
    pub fn database(&self) -> Database {
        match self {
            PlacementSpec::Shared => Database::Control,
            PlacementSpec::Schema { database, .. } => database.clone(),
            PlacementSpec::Dedicated { database } => Database::Named(database.clone()),
        }
    }

    /// The schema holding the data.
    pub fn schema(&self) -> &str {
        match self {
            PlacementSpec::Schema { schema, .. } => schema,
            _ => "app",
        }
    }

    /// The migration target of this placement.
    pub fn target(&self) -> Target {
        let (p, _, s) = self.columns();
        Target::placement(p, self.database(), s)
            .expect("a PlacementSpec is always a valid placement")
    }
}

impl fmt::Display for PlacementSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.target().key)
    }
}

/// Refuses a schema or dedicated database another tenant already uses.
pub(crate) async fn ensure_free(
    control: &Client,
    placement: &PlacementSpec,
    except: Option<Uuid>,
) -> Result<()> {
    let (kind, target, schema) = placement.columns();
    if kind == "shared" {
        return Ok(());
    }
    let taken = control
        .query_opt(
            "SELECT t.slug FROM tenantgate.tenant_placements AS p JOIN tenantgate.tenants AS t ON t.id = p.tenant_id \
              WHERE p.tenant_id IS DISTINCT FROM $4 AND ( \
                    ($1 = 'schema' AND p.schema_name = $3 AND p.database_target IS NOT DISTINCT FROM $2) \
                 OR ($1 = 'dedicated' AND p.placement = 'dedicated' AND p.database_target = $2))",
            &[&kind, &target, &schema, &except],
        )
        .await
        .doing(format_args!("checking who uses {placement}"))?;
    if let Some(row) = taken {
        return Err(Error::PlacementTaken {
            placement: placement.to_string(),
            holder: row.get(0),
        });
    }
    Ok(())
}

/// Migrates the placement's database and schema and copies the context keys there.
pub(crate) async fn prepare(
    targets: &Targets,
    migrations: &[Migration],
    control: &Client,
    placement: &PlacementSpec,
) -> Result<()> {
    let db = placement.database();
    if db != Database::Control {
        let r = migrate::apply_target(targets, migrations, &Target::database(db.clone())).await?;
        if let Some(error) = r.error {
            return Err(Error::PreparePlacement {
                placement: format!("database {db}"),
                error,
            });
        }
        let client = targets.connect(&db).await?;
        db::sync_context_keys(control, &client).await?;
    }
    let r = migrate::apply_target(targets, migrations, &placement.target()).await?;
    if let Some(error) = r.error {
        return Err(Error::PreparePlacement {
            placement: placement.to_string(),
            error,
        });
    }
    Ok(())
}

/// Forgets the migration records of a placement whose schema was dropped (a move away or a purge
/// emptied it), so that a tenant placed there later is migrated afresh.
pub(crate) async fn forget_migrations(
    control: &impl GenericClient,
    placement: &PlacementSpec,
) -> Result<()> {
    control
        .execute(
            "DELETE FROM tenantgate.schema_migrations WHERE placement = $1",
            &[&placement.target().key],
        )
        .await
        .doing("forgetting the dropped schema's migrations")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placements_parse_with_clear_errors() {
        assert_eq!(
            PlacementSpec::parse("shared", None, None, "acme").unwrap(),
            PlacementSpec::Shared
        );
        assert_eq!(
            PlacementSpec::parse("schema", None, None, "big-co").unwrap(),
            PlacementSpec::Schema {
                database: Database::Control,
                schema: "tenant_big_co".into()
            }
        );
        assert_eq!(
            PlacementSpec::parse("dedicated", Some("eu"), None, "acme")
                .unwrap()
                .to_string(),
            "dedicated:eu"
        );
        let err = |k, t, s| {
            PlacementSpec::parse(k, t, s, "acme")
                .unwrap_err()
                .to_string()
        };
        assert!(err("dedicated", None, None).contains("--database"));
        assert!(err("schema", None, Some("public")).contains("tenant_"));
        assert!(err("shared", Some("eu"), None).contains("neither"));
        assert!(err("moon", None, None).contains("shared, schema, dedicated"));
    }
}
