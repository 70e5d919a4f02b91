//! The host's prepared statements: one cache per pooled connection.
//!
//! Under [`StatementFilter::Backend`](super::StatementFilter) a component's statement is
//! prepared once per connection (a named statement, `Parse`/`Describe`) and then only bound
//! and executed, one round trip, with no parse, analysis or rewrite on the server; Postgres
//! keeps the plan when that pays (its plan cache chooses between custom and generic plans).
//! A `tasks` request's statements cost Postgres about half the CPU this way (BENCHMARKS.md,
//! "The tasks path").
//!
//! Why this is safe to share between requests and tenants on one connection:
//! - Postgres re-validates a cached statement on every use: a different `search_path` (a
//!   schema placement's tenant), a different role or row-level-security setting, and any DDL
//!   or `ANALYZE` on what it reads make it parse and plan the text again. The row-level
//!   security policies are part of the rewritten query, and `current_tenant_id()` is run per
//!   execution (an `InitPlan`), never folded into a plan.
//! - A component cannot reach the host's statements: `PREPARE`, `EXECUTE`, `DEALLOCATE`,
//!   `DISCARD` and `DO` are refused by the statement filter, and the application role cannot
//!   read `pg_prepared_statements` (migration 0012), so one request cannot see which
//!   statements earlier ones ran. With the filter off (`--pg-statements any`, as Spin) there
//!   is no cache and the reset deallocates everything.
//! - Values are never part of the text: they are bound per execution.
//!
//! The cache holds at most [`MAX_STATEMENTS`] statements per connection, then starts over
//! (dropping a statement closes it on the server). A statement whose text fails to prepare is
//! not kept. When a table's row type changes under a cached `SELECT *`, Postgres refuses the
//! old statement once ("cached plan must not change result type"); that statement is
//! forgotten, so the next call prepares it again.

use deadpool_postgres::Client;
use tokio_postgres::error::SqlState;
use tokio_postgres::Statement;

/// Prepared statements kept per connection.
pub const MAX_STATEMENTS: usize = 128;

/// `sql` prepared on `client`, every parameter's type inferred by the server (as Spin
/// prepares it), from the connection's cache when it is there.
pub async fn prepared(client: &Client, sql: &str) -> Result<Statement, tokio_postgres::Error> {
    let cache = &client.statement_cache;
    if cache.size() >= MAX_STATEMENTS {
        cache.clear();
    }
    let stmt = client.prepare_cached(sql).await;
    if stmt.is_err() {
        // deadpool keeps an empty slot for a text that failed; drop it so failing texts
        // cannot grow the map.
        cache.remove(sql, &[]);
    }
    stmt
}

/// After `e` from running the cached `sql`: forget the statement if Postgres refused it
/// because its result type changed under it.
pub fn after_error(client: &Client, sql: &str, e: &tokio_postgres::Error) {
    let stale = e.as_db_error().is_some_and(|db| {
        *db.code() == SqlState::FEATURE_NOT_SUPPORTED && db.message().starts_with("cached plan")
    });
    if stale {
        client.statement_cache.remove(sql, &[]);
    }
}
