//! Postgres pools, one per connection string, and the clean-up that decides whether a
//! connection may go back to its pool.
//!
//! A connection goes back only after the reset ([`RESET_SESSION`], with `ROLLBACK` in front,
//! one round trip) succeeds on it, so no transaction, session setting, role, cursor, temp
//! table, sequence state, advisory lock or `LISTEN` of one request reaches the next; a
//! connection that cannot be cleaned is closed instead. Prepared statements: under
//! [`StatementFilter::Backend`](super::StatementFilter) a component cannot name or create
//! one (`PREPARE`, `EXECUTE`, `DEALLOCATE`, `DISCARD` are refused), so the only prepared
//! statements on a connection are the host's own cache ([`super::cache`]) and they stay;
//! with the filter off the reset deallocates everything, the cache with it.
//!
//! With [`PgReset::Spin`] (`--pg-reset spin`) the host does none of this and recycles
//! connections exactly as Spin's pool does (deadpool's `RecyclingMethod::Clean` when a
//! connection is taken out again: no `ROLLBACK`, so a transaction a request left open, and
//! whatever it set with `SET LOCAL`, reaches the next request on that connection, as on Spin).
//! The app's own defences (tenant-db starts every unit of work with `ROLLBACK`) are tested
//! that way.

use crate::spin_compat::SpinCompat;
use std::collections::HashMap;
use std::sync::Mutex;

use super::filter::{StatementFilter, StatementGate};

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};

/// How a connection is cleaned between requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PgReset {
    /// The host's reset ([`RESET_SESSION`] after a `ROLLBACK`), before the connection goes
    /// back; one that cannot be cleaned is closed. The default.
    #[default]
    Host,
    /// As Spin's pool: the connection goes back as the request left it, and deadpool's
    /// `Clean` recycling runs when it is taken out again (no `ROLLBACK`).
    Spin,
}

impl std::str::FromStr for PgReset {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "host" => Ok(PgReset::Host),
            "spin" => Ok(PgReset::Spin),
            other => Err(format!(
                "unknown Postgres reset {other:?} (expected \"host\" or \"spin\")"
            )),
        }
    }
}

/// Default number of connections per connection string.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// Postgres pools, one per connection string.
pub struct PgPools {
    pools: Mutex<HashMap<String, Pool>>,
    max_size: usize,
    compat: SpinCompat,
    gate: StatementGate,
    reset: PgReset,
}

impl Default for PgPools {
    fn default() -> Self {
        PgPools::new(DEFAULT_POOL_SIZE)
    }
}

impl PgPools {
    /// Pools of at most `max_size` connections each.
    pub fn new(max_size: usize) -> PgPools {
        PgPools {
            pools: Mutex::new(HashMap::new()),
            max_size: max_size.max(1),
            compat: SpinCompat::Latest,
            gate: StatementGate::default(),
            reset: PgReset::Host,
        }
    }

    /// Cleans connections between requests as `reset` says (see [`PgReset`]).
    pub fn with_reset(mut self, reset: PgReset) -> PgPools {
        self.reset = reset;
        self
    }

    /// How connections are cleaned between requests.
    pub fn reset(&self) -> PgReset {
        self.reset
    }

    /// Accepts from components only the statements `filter` allows (see [`super::filter`]).
    pub fn with_statement_filter(mut self, filter: StatementFilter) -> PgPools {
        self.gate = StatementGate::new(filter);
        self
    }

    /// The statement filter components' statements pass.
    pub fn gate(&self) -> &StatementGate {
        &self.gate
    }

    /// Reproduces `compat`'s Postgres defects (see [`crate::spin_compat`]).
    pub fn with_spin_compat(mut self, compat: SpinCompat) -> PgPools {
        self.compat = compat;
        self
    }

    /// Which Spin's Postgres defects these pools' connections reproduce.
    pub fn compat(&self) -> SpinCompat {
        self.compat
    }

    /// The pool for `address`, made on first use from `config`.
    pub(crate) fn pool(
        &self,
        address: &str,
        config: tokio_postgres::Config,
    ) -> Result<Pool, String> {
        let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = pools.get(address) {
            return Ok(p.clone());
        }
        let mgr = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: match self.reset {
                    PgReset::Host => RecyclingMethod::Fast,
                    PgReset::Spin => RecyclingMethod::Clean,
                },
            },
        );
        let pool = Pool::builder(mgr)
            .max_size(self.max_size)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(std::time::Duration::from_secs(10)))
            .create_timeout(Some(std::time::Duration::from_secs(5)))
            .build()
            .map_err(|e| e.to_string())?;
        pools.insert(address.to_owned(), pool.clone());
        Ok(pool)
    }
}

/// What `DISCARD ALL` does, in its documented order, except `DISCARD PLANS`: every piece
/// of session state a request can leave behind is reset, but the backend keeps its cached
/// plans. Those are not state a request can observe (they are re-validated against the
/// current role, `search_path` and schema on every use), and dropping them made the next
/// request re-plan every statement of the functions it calls: for the tenant-context
/// verification behind every row-level-security policy, about 0.5 ms a request
/// (BENCHMARKS.md, "Postgres connection hygiene"). One round trip (simple protocol).
pub const RESET_SESSION: &str = "CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; \
    DEALLOCATE ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); DISCARD TEMP; DISCARD SEQUENCES";

/// The reset the pool sends: `ROLLBACK` (ends whatever transaction the request left open,
/// failed or not; the statements after it run in a fresh implicit transaction) and
/// [`RESET_SESSION`], in one simple-protocol round trip. With `keep_statements` (the
/// statement filter refuses every way a component could name a prepared statement),
/// `DEALLOCATE ALL` is left out so the host's statement cache survives.
fn reset_sql(keep_statements: bool) -> String {
    let reset = if keep_statements {
        RESET_SESSION.replace(" DEALLOCATE ALL;", "")
    } else {
        RESET_SESSION.to_owned()
    };
    format!("ROLLBACK; {reset}")
}

/// A guard that closes the connection unless cleaning finished.
struct Dirty(Option<Object>);

impl Drop for Dirty {
    fn drop(&mut self) {
        if let Some(obj) = self.0.take() {
            drop(Object::take(obj));
        }
    }
}

async fn clean_and_return(obj: Object, keep_statements: bool) {
    let mut guard = Dirty(Some(obj));
    let client = guard.0.as_ref().expect("present until returned");
    if !keep_statements {
        // `DEALLOCATE ALL` below drops every prepared statement, the cache's too.
        client.statement_cache.clear();
    }
    let ok = !client.is_closed()
        && client
            .simple_query(&reset_sql(keep_statements))
            .await
            .is_ok();
    if ok {
        // Back to the pool.
        drop(guard.0.take());
    }
}

/// Cleans `obj` in the background and returns it to its pool, or closes it. With
/// `keep_statements`, the host's prepared statements stay (see [`reset_sql`]). With
/// [`PgReset::Spin`] it goes back as it is.
pub(crate) fn release(obj: Object, keep_statements: bool, reset: PgReset) {
    if reset == PgReset::Spin {
        drop(obj);
        return;
    }
    match tokio::runtime::Handle::try_current() {
        Ok(h) => {
            h.spawn(clean_and_return(obj, keep_statements));
        }
        Err(_) => drop(Object::take(obj)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reset_keeps_statements_only_when_asked() {
        let keep = reset_sql(true);
        let all = reset_sql(false);
        assert!(keep.starts_with("ROLLBACK; CLOSE ALL;"), "{keep}");
        assert!(!keep.contains("DEALLOCATE"), "{keep}");
        assert!(all.contains(" DEALLOCATE ALL;"), "{all}");
        // Everything else is the same, in the same order.
        assert_eq!(all.replace(" DEALLOCATE ALL;", ""), keep);
        assert!(keep.ends_with("DISCARD TEMP; DISCARD SEQUENCES"), "{keep}");
    }
}
