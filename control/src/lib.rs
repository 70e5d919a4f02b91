//! tenantgate's control plane: the operations on tenants, one module per command, and
//! [`cli`], the `tenantgate` subcommands over them (all but `up`, which is the host's). The
//! control plane never runs components: it talks to Postgres (and, to verify custom domains and
//! fetch IdP metadata, DNS and HTTP) and nothing else. Its modules:
//!
//! - [`migrate`]: applies `migrations/` to the control plane and to every placement the routing table
//!   names, with a canary and a record of what ran where;
//! - [`create`]: provisions a tenant in a placement, and shows what the control plane knows of it
//!   ([`tenant::list`] lists them);
//! - [`lifecycle`]: suspends, reactivates, deletes (with a grace period) and restores a tenant;
//! - [`purge`]: removes a deleted tenant's data and entries after its grace period;
//! - [`moves`]: moves a tenant between placements (copy, verify, flip, delete) with the old placement
//!   authoritative until the flip;
//! - [`export`]: one tenant's data, control plane and placement, as newline-delimited JSON files;
//! - [`domains`]: custom domains, claimed with a token and verified by DNS TXT record or HTTP token;
//! - [`limits`]: plans and per-tenant rate limits and quotas; [`usage`]: the metered requests;
//! - [`connection`]: the settings the application roles' connection strings pin;
//! - [`isolation`]: checks every tenant-scoped table's isolation, by catalog and by trying to read
//!   across tenants as the application role (`tenantgate audit isolation`).
//!
//! Shared by them, each defined once: [`db`] (connections, database targets), [`tenant`] (tenant
//! lookup), [`placement`] (where a tenant's data lives), `tenant_data` (its rows: tables, counts,
//! checksums, deletion, the move/purge lock), `events` (the audit-event insert) and
//! [`contract`] (the tenant-contract pieces the control plane still defines itself).
//!
//! Everything connects as the migration superuser (platform operations on tenant rows need `BYPASSRLS`,
//! `migrations/README.md`); the [`Targets`] give the control-plane URL and the named database targets.
//! Every operation returns [`Error`], whose variants say what they stopped; [`report`] renders one
//! with its causes as the CLI prints it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tenantgate_control::Error> {
//! use tenantgate_control::lifecycle::{set_lifecycle, Lifecycle};
//! use tenantgate_control::{Database, Error, Targets};
//!
//! let targets = Targets::new("postgres://postgres@127.0.0.1:54329/postgres", &[])?;
//! let mut control = targets.connect(&Database::Control).await?;
//! let suspend = Lifecycle::Suspend { reason: Some("unpaid invoice".into()) };
//! match set_lifecycle(&mut control, "acme", &suspend).await {
//!     Ok(t) => println!("{} is {}", t.slug, t.status),
//!     Err(Error::WrongStatus { status, .. }) => println!("acme is {status}; nothing changed"),
//!     Err(e) => return Err(e),
//! }
//! # Ok(())
//! # }
//! ```

pub mod cli;
pub mod connection;
pub mod contract;
pub mod create;
pub mod db;
pub mod domains;
mod error;
mod events;
pub mod export;
pub mod isolation;
pub mod lifecycle;
pub mod limits;
pub mod migrate;
pub mod moves;
pub mod placement;
pub mod purge;
mod report;
pub mod sso;
pub mod tenant;
mod tenant_data;
pub mod usage;

pub use db::{Database, Targets};
pub use error::{Error, Result};
pub use placement::Placement;
pub use report::{describe, report};
pub use tenant::Tenant;
pub use tenant_data::tenant_tables;
