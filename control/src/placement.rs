//! Placements: where a tenant's data lives (shared, a schema of its own, a dedicated database),
//! parsed from the command line and the routing table, and prepared for a tenant.
//!
//! A new placement is prepared before any routing entry names it (`prepare`: its database and
//! schema migrated, the context keys copied), and a schema or dedicated database holds one tenant
//! only (`ensure_free`). `tenant create` and `tenant move` both go through these two.

use tokio_postgres::{Client, GenericClient};
use uuid::Uuid;

use crate::contract::valid_schema_name;
use crate::db::{self, Database, Targets};
use crate::error::{Error, Result};
use crate::migrate::{self, Migration, Target};
use crate::report::Doing as _;

/// Where a tenant's data lives: the contract's one placement type.
pub use tenant_contract::Placement;

/// What the control plane needs of a placement beyond the contract: the database to connect
/// to and the migration target.
pub trait PlacementExt {
    /// The database holding the data.
    fn database(&self) -> Database;
    /// The migration target of this placement.
    fn target(&self) -> Target;
}

impl PlacementExt for Placement {
    fn database(&self) -> Database {
        Database::from_target(self.database_target().map(|t| t.as_str().to_owned()))
    }

    fn target(&self) -> Target {
        Target::placement(
            self.kind(),
            self.database(),
            self.schema().map(|s| s.as_str().to_owned()),
        )
        .expect("a contract Placement is always a valid placement")
    }
}

/// A placement from the command line: `kind` is shared|schema|dedicated; a schema placement
/// defaults to `tenant_<slug>` in the control-plane database.
pub fn parse(
    kind: &str,
    target: Option<&str>,
    schema: Option<&str>,
    slug: &str,
) -> Result<Placement> {
    let invalid = |why: &str| Err(Error::InvalidPlacement(why.into()));
    let schema = match kind {
        "shared" if target.is_some() || schema.is_some() => {
            return invalid("the shared placement takes neither --database nor --schema")
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
            Some(schema)
        }
        "dedicated" if schema.is_some() => {
            return invalid("a dedicated placement uses schema app; --schema does not apply")
        }
        "dedicated" if target.is_none() => {
            return invalid("a dedicated placement needs --database <target name>")
        }
        "shared" | "dedicated" => None,
        other => {
            return Err(Error::InvalidPlacement(format!(
                "placement {other:?} is not one of shared, schema, dedicated"
            )))
        }
    };
    Placement::from_columns(kind, target, schema.as_deref())
        .map_err(|e| Error::InvalidPlacement(e.to_string()))
}

/// A placement from the routing table's columns.
pub(crate) fn from_row(
    placement: &str,
    target: Option<String>,
    schema: Option<String>,
) -> Result<Placement> {
    Placement::from_columns(placement, target.as_deref(), schema.as_deref()).map_err(|_| {
        Error::Inconsistent(format!(
            "routing table holds an invalid placement: {placement} {target:?} {schema:?}"
        ))
    })
}

/// Refuses a schema or dedicated database another tenant already uses.
pub(crate) async fn ensure_free(
    control: &Client,
    placement: &Placement,
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
    placement: &Placement,
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
    placement: &Placement,
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
            parse("shared", None, None, "acme").unwrap(),
            Placement::Shared
        );
        assert_eq!(
            parse("schema", None, None, "big-co").unwrap().to_string(),
            "schema:control/tenant_big_co"
        );
        let p = parse("dedicated", Some("eu"), None, "acme").unwrap();
        assert_eq!(p.to_string(), "dedicated:eu");
        assert_eq!(
            p.to_string(),
            p.target().key,
            "display is the migration key"
        );
        assert_eq!(p.database(), Database::Named("eu".into()));
        assert!(parse("dedicated", Some("EU!"), None, "acme").is_err());
        let err = |k, t, s| parse(k, t, s, "acme").unwrap_err().to_string();
        assert!(err("dedicated", None, None).contains("--database"));
        assert!(err("schema", None, Some("public")).contains("tenant_"));
        assert!(err("shared", Some("eu"), None).contains("neither"));
        assert!(err("moon", None, None).contains("shared, schema, dedicated"));
    }
}
