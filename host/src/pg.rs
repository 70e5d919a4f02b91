//! Outbound Postgres (`spin:postgres/postgres@4.0.0`) over tokio-postgres.
//!
//! - `open` checks every host of the connection string against the component's
//!   `allowed_outbound_hosts` (scheme `postgres`) before connecting; Unix sockets are
//!   refused.
//! - One pool per connection string. A connection goes back to its pool only after
//!   `ROLLBACK` and [`RESET_SESSION`] succeed on it, so no transaction, session setting,
//!   role, prepared statement, cursor, temp table, sequence state, advisory lock or
//!   `LISTEN` of one request reaches the next; a connection that cannot be cleaned is
//!   closed instead.
//! - A statement whose parameters all name their Postgres type ([`types::declared_types`])
//!   runs in one round trip on the unnamed statement; otherwise it is prepared first, so the
//!   server infers the types.
//! - Errors are WIT error values; a Postgres error keeps its SQLSTATE and fields.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Mutex;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use wasmtime::component::{HasSelf, Linker, Resource};

use crate::bindings::spin::postgres::postgres::{self as wit, Error, ParameterValue, RowSet};
use crate::spin_compat::{SpinCompat, ZERO_ROW_MESSAGE};
use crate::state::HostState;

mod types;

/// Default number of connections per connection string.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// Postgres pools, one per connection string.
pub struct PgPools {
    pools: Mutex<HashMap<String, Pool>>,
    max_size: usize,
    compat: SpinCompat,
}

impl Default for PgPools {
    fn default() -> Self {
        PgPools::new(DEFAULT_POOL_SIZE)
    }
}

/// `spin:postgres/postgres.connection`: a pooled client, cleaned when dropped.
pub struct PgConnection {
    obj: Option<Object>,
}

/// Adds `spin:postgres/postgres@4.0.0` to `linker`.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    wit::add_to_linker::<_, HasSelf<HostState>>(linker, |s| s)?;
    Ok(())
}

impl PgPools {
    /// Pools of at most `max_size` connections each.
    pub fn new(max_size: usize) -> PgPools {
        PgPools {
            pools: Mutex::new(HashMap::new()),
            max_size: max_size.max(1),
            compat: SpinCompat::Latest,
        }
    }

    /// Reproduces `compat`'s Postgres defects (see [`crate::spin_compat`]).
    pub fn with_spin_compat(mut self, compat: SpinCompat) -> PgPools {
        self.compat = compat;
        self
    }

    fn pool(&self, address: &str, config: tokio_postgres::Config) -> Result<Pool, String> {
        let mut pools = self.pools.lock().unwrap();
        if let Some(p) = pools.get(address) {
            return Ok(p.clone());
        }
        let mgr = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
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

/// Checks every host of `config` against `allowed` (scheme `postgres`).
pub(crate) fn config_allowed(
    allowed: &crate::allowed_hosts::AllowedHosts,
    config: &tokio_postgres::Config,
) -> Result<(), String> {
    let hosts = config.get_hosts();
    if hosts.is_empty() {
        return Err("the connection string names no host".into());
    }
    let ports = config.get_ports();
    for (i, host) in hosts.iter().enumerate() {
        let tokio_postgres::config::Host::Tcp(h) = host else {
            return Err("Unix-socket connections are not permitted".into());
        };
        let port = match ports.len() {
            0 => 5432,
            1 => ports[0],
            _ => *ports.get(i).unwrap_or(&5432),
        };
        let h = h
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if !allowed.allows("postgres", &h, Some(port)) {
            return Err(format!(
                "postgres://{h}:{port} is not permitted by the component's allowed_outbound_hosts"
            ));
        }
    }
    Ok(())
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

/// A guard that closes the connection unless cleaning finished.
struct Dirty(Option<Object>);

impl Drop for Dirty {
    fn drop(&mut self) {
        if let Some(obj) = self.0.take() {
            drop(Object::take(obj));
        }
    }
}

async fn clean_and_return(obj: Object) {
    let mut guard = Dirty(Some(obj));
    let client = guard.0.as_ref().expect("present until returned");
    let ok = !client.is_closed()
        && client.simple_query("ROLLBACK").await.is_ok()
        && client.simple_query(RESET_SESSION).await.is_ok();
    if ok {
        // Back to the pool.
        drop(guard.0.take());
    }
}

impl Drop for PgConnection {
    fn drop(&mut self) {
        let Some(obj) = self.obj.take() else { return };
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn(clean_and_return(obj));
            }
            Err(_) => drop(Object::take(obj)),
        }
    }
}

fn query_error(e: tokio_postgres::Error) -> Error {
    Error::QueryFailed(types::query_error(&e))
}

impl HostState {
    fn pg_client(
        &self,
        c: &Resource<PgConnection>,
    ) -> wasmtime::Result<&deadpool_postgres::Client> {
        let conn = self.table.get(c)?;
        Ok(conn.obj.as_ref().expect("present until dropped"))
    }

    /// `query` as Spin answers it, before any [`SpinCompat`] quirk is applied.
    async fn pg_query(
        &mut self,
        c: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<RowSet, Error>> {
        let declared = types::declared_types(&params);
        let params = match types::to_sql_params(params, declared.is_some()) {
            Ok(p) => p,
            Err(e) => return Ok(Err(Error::BadParameter(e))),
        };
        let client = self.pg_client(&c)?;
        let refs = types::param_refs(&params);
        if let Some(tys) = declared {
            // Types known: parse, bind, describe and execute in one round trip on the unnamed
            // statement. Only an empty result needs the statement described for its columns.
            let typed: Vec<_> = refs.iter().copied().zip(tys.iter().cloned()).collect();
            let rows = match client.query_typed(&statement, &typed).await {
                Ok(r) => r,
                Err(e) => return Ok(Err(query_error(e))),
            };
            if let Some(first) = rows.first() {
                return Ok(types::row_set(first.columns(), &rows).map_err(query_error));
            }
            let stmt = match client.prepare_typed(&statement, &tys).await {
                Ok(s) => s,
                Err(e) => return Ok(Err(query_error(e))),
            };
            return Ok(types::row_set(stmt.columns(), &rows).map_err(query_error));
        }
        let stmt = match client.prepare(&statement).await {
            Ok(s) => s,
            Err(e) => return Ok(Err(query_error(e))),
        };
        let rows = match client.query(&stmt, &refs).await {
            Ok(r) => r,
            Err(e) => return Ok(Err(query_error(e))),
        };
        Ok(types::row_set(stmt.columns(), &rows).map_err(query_error))
    }
}

impl wit::Host for HostState {}

impl wit::HostConnection for HostState {
    async fn open(
        &mut self,
        address: String,
    ) -> wasmtime::Result<Result<Resource<PgConnection>, Error>> {
        let config = match tokio_postgres::Config::from_str(&address) {
            Ok(c) => c,
            Err(e) => {
                return Ok(Err(Error::ConnectionFailed(format!(
                    "invalid connection string: {e}"
                ))))
            }
        };
        if let Err(msg) = config_allowed(&self.component.allowed_hosts, &config) {
            tracing::warn!(component = %self.component.id, "postgres address denied by allowed_outbound_hosts");
            return Ok(Err(Error::ConnectionFailed(msg)));
        }
        let pool = match self.services.pg.pool(&address, config) {
            Ok(p) => p,
            Err(e) => return Ok(Err(Error::ConnectionFailed(e))),
        };
        match pool.get().await {
            Ok(obj) => Ok(Ok(self.table.push(PgConnection { obj: Some(obj) })?)),
            Err(e) => Ok(Err(Error::ConnectionFailed(e.to_string()))),
        }
    }

    async fn query(
        &mut self,
        c: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<RowSet, Error>> {
        let result = self.pg_query(c, statement, params).await?;
        if self.services.pg.compat.refuses_zero_row_queries()
            && result.as_ref().is_ok_and(|rs| rs.rows.is_empty())
        {
            tracing::warn!(component = %self.component.id, "spin-compat 4.0: a Postgres query returned no row (Spin #3671)");
            return Ok(Err(Error::Other(ZERO_ROW_MESSAGE.to_owned())));
        }
        Ok(result)
    }

    async fn execute(
        &mut self,
        c: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<u64, Error>> {
        let declared = types::declared_types(&params);
        let params = match types::to_sql_params(params, declared.is_some()) {
            Ok(p) => p,
            Err(e) => return Ok(Err(Error::BadParameter(e))),
        };
        let client = self.pg_client(&c)?;
        let refs = types::param_refs(&params);
        if let Some(tys) = declared {
            // Types known (always, without parameters: `BEGIN`, `COMMIT`, DDL...): parse, bind
            // and execute in one round trip on the unnamed statement, with the same rule as a
            // prepared statement: one command per call.
            let typed: Vec<_> = refs.iter().copied().zip(tys).collect();
            return Ok(client
                .execute_typed(&statement, &typed)
                .await
                .map_err(query_error));
        }
        Ok(client.execute(&statement, &refs).await.map_err(query_error))
    }

    async fn drop(&mut self, c: Resource<PgConnection>) -> wasmtime::Result<()> {
        self.table.delete(c)?;
        Ok(())
    }
}
