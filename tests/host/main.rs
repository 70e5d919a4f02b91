//! Capability tests of the host: every test runs real guest components through the
//! host's HTTP server on loopback, against real Postgres and Redis where needed.

mod chaining;
mod cli;
mod edge;
mod fixtures_covered;
mod kv;
mod limits;
mod pg_cache;
mod pg_filter;
mod postgres;
mod redis;
mod routing;
mod spin_compat;
mod spin_world;
mod variables;
