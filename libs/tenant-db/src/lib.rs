//! `tenant-db`: how every tenantgate backend component reaches Postgres.
//!
//! The gateway forwards each request with a signed `x-tenant-context` token. This crate
//! reads it (unverified: Postgres verifies the signature and expiry in every statement,
//! see `migrations/README.md`), picks the database and schema from the placement the
//! token names, and runs the caller's work in one transaction:
//! `ROLLBACK` (a pooled connection may carry a dropped transaction), `BEGIN READ ONLY` or
//! `BEGIN READ WRITE`, one statement that binds the tenant's schema and the context
//! transaction-locally (`set_config('search_path', $1, true)`,
//! `set_config('tenantgate.context', $2, true)`; never `SET`, which the host refuses, nor a
//! session-level `set_config(..., false)`), releases advisory locks an earlier request left
//! on the pooled connection, and reads back the verified tenant; the work; `COMMIT`;
//! `ROLLBACK` on every error path. Backend code gets a [`Tx`] only inside [`TenantDb::read`] or
//! [`TenantDb::write`], so it has no way to the database without the tenant bound.
//!
//! [`TenantDb::control_plane`] opens the control-plane database instead (the organisation
//! tables of schema `tenantgate`, whatever the tenant's placement), with the same context
//! bound and `search_path` = `pg_catalog, pg_temp`.
//!
//! Configuration comes from two Spin variables the component declares:
//! `database_url` (the control-plane database, which holds the `shared` placement and,
//! by default, `schema` placements) and `database_targets`
//! (`name=url,name2=url2`: the connection strings of the routing table's database targets).
//!
//! ```no_run
//! use tenant_db::{TenantDb, Databases};
//! # fn handle(req: &spin_sdk::http::Request) -> Result<(), tenant_db::DbError> {
//! let db = TenantDb::from_request(req, &Databases::from_variables()?)?;
//! let open: i64 = db.read(|tx| {
//!     let rows = tx.query("SELECT count(*) FROM tasks WHERE NOT done", &[])?;
//!     let open = rows.rows().next().and_then(|r| r.get::<i64>("count"));
//!     Ok::<_, tenant_db::DbError>(open.unwrap_or(0))
//! })?;
//! # Ok(()) }
//! ```

mod context;
pub mod envelope;
mod error;
mod placement;
mod tx;

pub use context::{TenantContext, CONTEXT_HEADER};
pub use error::DbError;
pub use placement::{Databases, Target, CONTROL_SEARCH_PATH};
/// The contract's context claims and placement, as backends read them.
pub use tenant_contract::{ContextClaims, Placement};
pub use tx::{Access, TenantDb, Tx};

/// Re-exported so backends name parameter and value types from one place.
pub use spin_sdk::pg4::{Column, DbValue, Decode, ParameterValue, RowSet};
