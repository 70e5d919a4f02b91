//! Where a tenant's data lives (docs/architecture.md §5): the one [`Placement`] type.
//!
//! The routing table (`tenantgate.tenant_placements`) stores a placement as three columns,
//! `placement`, `database_target` and `schema_name`; the tenant context carries the same
//! three as `plc`, `db` and `sch`. [`Placement::from_columns`] and [`Placement::columns`]
//! convert both ways, with the table's own rules (`tenant_placements_fields`):
//!
//! | kind | database target | schema | data in |
//! |---|---|---|---|
//! | `shared` | none | none | schema `app` of the control-plane database, under RLS |
//! | `schema` | optional (none: the control-plane database) | `tenant_*` | that schema |
//! | `dedicated` | required | none | schema `app` of the named database |

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{DatabaseTarget, SchemaName};

/// Where a tenant's data lives. Every name in it is validated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Placement {
    /// Schema `app` of the control-plane database, shared with every other such tenant.
    Shared,
    /// A schema of its own, in `database_target` or (when `None`) the control-plane database.
    Schema {
        /// The database holding the schema; `None` means the control-plane database.
        database_target: Option<DatabaseTarget>,
        /// The schema.
        schema: SchemaName,
    },
    /// Schema `app` of a database of its own.
    Dedicated {
        /// The database's target name.
        database_target: DatabaseTarget,
    },
}

/// The schema every non-`schema` placement keeps its data in.
pub const SHARED_SCHEMA: &str = "app";

/// Why three columns (or context claims) are not a placement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPlacement {
    /// The kind is not `shared`, `schema` or `dedicated`.
    #[error("placement kind {0:?} is not one of shared, schema, dedicated")]
    Kind(String),
    /// The kind's fields are missing, extra, or invalid names.
    #[error("invalid fields for a {0} placement")]
    Fields(&'static str),
}

impl Placement {
    /// The kind as stored and signed: `shared`, `schema` or `dedicated`.
    pub fn kind(&self) -> &'static str {
        match self {
            Placement::Shared => "shared",
            Placement::Schema { .. } => "schema",
            Placement::Dedicated { .. } => "dedicated",
        }
    }

    /// The database target, if the placement names one (`None`: the control-plane database).
    pub fn database_target(&self) -> Option<&DatabaseTarget> {
        match self {
            Placement::Shared => None,
            Placement::Schema {
                database_target, ..
            } => database_target.as_ref(),
            Placement::Dedicated { database_target } => Some(database_target),
        }
    }

    /// The tenant schema, for the `schema` placement only.
    pub fn schema(&self) -> Option<&SchemaName> {
        match self {
            Placement::Schema { schema, .. } => Some(schema),
            _ => None,
        }
    }

    /// The one schema the tenant's statements run in: its own, or [`SHARED_SCHEMA`].
    pub fn search_path(&self) -> &str {
        self.schema().map_or(SHARED_SCHEMA, SchemaName::as_str)
    }

    /// Builds a placement from the routing table's columns (or the context's `plc`, `db`,
    /// `sch`). Fails on an unknown kind, on fields the kind does not take or lacks, and on
    /// names that are not a [`DatabaseTarget`] or [`SchemaName`].
    pub fn from_columns(
        kind: &str,
        database_target: Option<&str>,
        schema: Option<&str>,
    ) -> Result<Placement, InvalidPlacement> {
        let target = |k: &'static str, t: &str| {
            t.parse::<DatabaseTarget>()
                .map_err(|_| InvalidPlacement::Fields(k))
        };
        match (kind, database_target, schema) {
            ("shared", None, None) => Ok(Placement::Shared),
            ("schema", t, Some(s)) => Ok(Placement::Schema {
                database_target: t.map(|t| target("schema", t)).transpose()?,
                schema: s.parse().map_err(|_| InvalidPlacement::Fields("schema"))?,
            }),
            ("dedicated", Some(t), None) => Ok(Placement::Dedicated {
                database_target: target("dedicated", t)?,
            }),
            ("shared", ..) => Err(InvalidPlacement::Fields("shared")),
            ("schema", ..) => Err(InvalidPlacement::Fields("schema")),
            ("dedicated", ..) => Err(InvalidPlacement::Fields("dedicated")),
            (other, ..) => Err(InvalidPlacement::Kind(other.to_owned())),
        }
    }

    /// The routing table's columns: (`placement`, `database_target`, `schema_name`).
    pub fn columns(&self) -> (&'static str, Option<&str>, Option<&str>) {
        (
            self.kind(),
            self.database_target().map(DatabaseTarget::as_str),
            self.schema().map(SchemaName::as_str),
        )
    }
}

impl fmt::Display for Placement {
    /// `shared`, `schema:<db or control>/<schema>`, `dedicated:<db>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Placement::Shared => f.write_str("shared"),
            Placement::Schema {
                database_target,
                schema,
            } => match database_target {
                Some(db) => write!(f, "schema:{db}/{schema}"),
                None => write!(f, "schema:control/{schema}"),
            },
            Placement::Dedicated { database_target } => write!(f, "dedicated:{database_target}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_round_trip_for_every_kind() {
        for (kind, db, sch) in [
            ("shared", None, None),
            ("schema", None, Some("tenant_acme")),
            ("schema", Some("eu-1"), Some("tenant_acme")),
            ("dedicated", Some("eu-1"), None),
        ] {
            let p = Placement::from_columns(kind, db, sch).unwrap();
            assert_eq!(p.columns(), (kind, db, sch));
        }
        let p = Placement::from_columns("schema", None, Some("tenant_x")).unwrap();
        assert_eq!(p.search_path(), "tenant_x");
        assert_eq!(Placement::Shared.search_path(), "app");
    }

    #[test]
    fn the_routing_tables_rules_are_enforced() {
        for (kind, db, sch) in [
            ("shared", Some("eu"), None),
            ("shared", None, Some("tenant_a")),
            ("schema", None, None),
            ("schema", None, Some("app")),
            ("schema", None, Some("tenant_x;drop")),
            ("dedicated", None, None),
            ("dedicated", Some("eu"), Some("tenant_a")),
            ("dedicated", Some("postgres://x"), None),
            ("elsewhere", None, None),
        ] {
            assert!(
                Placement::from_columns(kind, db, sch).is_err(),
                "{kind} {db:?} {sch:?}"
            );
        }
    }
}
