//! tenantgate's control-plane operations, behind the `tenantgate` command line:
//!
//! - [`migrate`]: applies `migrations/` to the control plane and to every placement the routing table
//!   names, with a canary and a record of what ran where;
//! - [`tenants`]: provisions tenants in a placement, lists and shows them, and moves a tenant between
//!   placements (copy, verify, flip, delete) with the old placement authoritative until the flip;
//! - [`export`]: one tenant's data, control plane and placement, as newline-delimited JSON files;
//! - [`domains`]: custom domains, claimed with a token and verified by DNS TXT record or HTTP token;
//! - [`audit`]: checks every tenant-scoped table's isolation, by catalog and by trying to read across
//!   tenants as the application role.
//!
//! Everything connects as the migration superuser (platform operations on tenant rows need `BYPASSRLS`,
//! `migrations/README.md`); the `Targets` give the control-plane URL and the named database targets.

pub mod audit;
pub mod db;
pub mod domains;
pub mod export;
pub mod migrate;
pub mod tenants;

pub use db::{Database, Targets};
