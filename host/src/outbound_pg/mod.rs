//! Outbound Postgres (`spin:postgres/postgres@4.0.0`) over tokio-postgres.
//!
//! - `open` checks every host of the connection string against the component's
//!   `allowed_outbound_hosts` (scheme `postgres`) before connecting; Unix sockets are
//!   refused.
//! - One pool per connection string, shared by every component ([`PgPools`]); a
//!   connection returns to its pool only once cleaned ([`RESET_SESSION`]).
//! - Parameters and results convert exactly as Spin converts them ([`types`]): Postgres
//!   infers every placeholder's type and a value of a kind Spin would refuse for it is
//!   refused here too, with the same error value. The host is never more lenient than Spin.
//! - Under the default statement filter, statements are prepared once per connection and
//!   kept ([`cache`]): one round trip each after the first, no parse or plan on the server.
//!   With the filter off (as Spin), a statement is prepared on the unnamed statement and
//!   run, as Spin does; one without parameters runs in one round trip.
//! - A component's `ROLLBACK` before it has sent anything on a connection the pool just
//!   handed out (so outside any transaction: the pool reset rolled back) is answered
//!   without a round trip, as Postgres would answer it (no rows, a warning).
//! - Errors are WIT error values; a Postgres error keeps its SQLSTATE and fields.
//! - Only the statement kinds a backend needs reach Postgres ([`filter`], on by default;
//!   `--pg-statements any` sends everything, as Spin does).
//!
//! Each component gets an [`OutboundPg`]; [`add_to_linker`] adds the interface, reached
//! through a [`PgView`] of the store's data.

use std::str::FromStr;
use std::sync::Arc;

use deadpool_postgres::Object;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

use crate::allowed_hosts::AllowedHosts;
use crate::spin_compat::ZERO_ROW_MESSAGE;
use bindings::spin::postgres::postgres::{self as wit, Error, ParameterValue, RowSet};

mod cache;
pub mod filter;
mod pool;
mod types;

pub use filter::StatementFilter;
pub use pool::{PgPools, PgReset, DEFAULT_POOL_SIZE, RESET_SESSION};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        inline: "
            package tenantgate:outbound-pg;
            world outbound-pg {
                import spin:postgres/postgres@4.0.0;
            }
        ",
        imports: { default: async | trappable },
        with: {
            "spin:postgres/postgres.connection": crate::outbound_pg::PgConnection,
        },
    });
}

/// What one component may reach: the shared pools, through its allow-list.
pub struct OutboundPg {
    component: String,
    allowed: Arc<AllowedHosts>,
    pools: Arc<PgPools>,
}

impl OutboundPg {
    /// Postgres for component `component`, allowed to reach what `allowed` lists.
    pub fn new(component: &str, allowed: Arc<AllowedHosts>, pools: Arc<PgPools>) -> OutboundPg {
        OutboundPg {
            component: component.to_owned(),
            allowed,
            pools,
        }
    }
}

/// The Postgres part of one store's data.
pub struct PgView<'a> {
    /// The component's Postgres access.
    pub ctx: &'a OutboundPg,
    /// The store's resource table (open connections live there).
    pub table: &'a mut ResourceTable,
}

struct PgData;

impl HasData for PgData {
    type Data<'a> = PgView<'a>;
}

/// Adds `spin:postgres/postgres@4.0.0` to `linker`; `get` finds the view in a store's data.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> PgView<'_>,
) -> anyhow::Result<()> {
    wit::add_to_linker::<T, PgData>(linker, get)?;
    Ok(())
}

/// `spin:postgres/postgres.connection`: a pooled client, cleaned when dropped.
pub struct PgConnection {
    obj: Option<Object>,
    /// Nothing sent yet since the pool handed the connection out: it is outside any
    /// transaction (the pool's reset rolled back, or it is new).
    untouched: bool,
    /// Statements go through the connection's cache, which the reset keeps.
    cached: bool,
    /// How the connection is cleaned when it goes back.
    reset: pool::PgReset,
}

impl Drop for PgConnection {
    fn drop(&mut self) {
        if let Some(obj) = self.obj.take() {
            pool::release(obj, self.cached, self.reset);
        }
    }
}

/// Whether `sql` is a bare `ROLLBACK` (what a component sends first to leave a transaction a
/// pooled connection may carry; `ROLLBACK TO SAVEPOINT` is not one: it fails outside a
/// transaction).
fn bare_rollback(sql: &str) -> bool {
    sql.trim()
        .trim_end_matches(';')
        .trim_end()
        .eq_ignore_ascii_case("rollback")
}

/// Checks every host of `config` against `allowed` (scheme `postgres`).
pub(crate) fn config_allowed(
    allowed: &AllowedHosts,
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

fn query_error(e: tokio_postgres::Error) -> Error {
    Error::QueryFailed(types::query_error(&e))
}

impl PgView<'_> {
    /// `Some(error)` when the statement filter refuses `statement`.
    fn refused(&self, statement: &str) -> Option<Error> {
        let why = self.ctx.pools.gate().check(statement).err()?;
        tracing::warn!(component = %self.ctx.component, "postgres statement refused by the statement filter");
        Some(Error::Other(why))
    }

    fn pg_client(
        &self,
        c: &Resource<PgConnection>,
    ) -> wasmtime::Result<&deadpool_postgres::Client> {
        let conn = self.table.get(c)?;
        Ok(conn.obj.as_ref().expect("present until dropped"))
    }

    /// Marks `c` as used; whether it was untouched before (see [`PgConnection::untouched`]).
    fn first_use(&mut self, c: &Resource<PgConnection>) -> wasmtime::Result<bool> {
        let conn = self.table.get_mut(c)?;
        Ok(std::mem::replace(&mut conn.untouched, false))
    }

    fn cached(&self, c: &Resource<PgConnection>) -> wasmtime::Result<bool> {
        Ok(self.table.get(c)?.cached)
    }

    /// `query` as Spin answers it, before any [`crate::spin_compat::SpinCompat`] quirk.
    async fn pg_query(
        &mut self,
        c: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<RowSet, Error>> {
        let params = match types::to_sql_params(params) {
            Ok(p) => p,
            Err(e) => return Ok(Err(Error::BadParameter(e))),
        };
        let cached = self.cached(&c)?;
        let client = self.pg_client(&c)?;
        let refs = types::param_refs(&params);
        let rows = if cached {
            let stmt = match cache::prepared(client, &statement).await {
                Ok(s) => s,
                Err(e) => return Ok(Err(query_error(e))),
            };
            match client.query(&stmt, &refs).await {
                Ok(rows) => rows,
                Err(e) => {
                    cache::after_error(client, &statement, &e);
                    return Ok(Err(query_error(e)));
                }
            }
        } else if refs.is_empty() {
            // Nothing for the server to infer: parse, bind, describe and execute in one round
            // trip on the unnamed statement, with the prepared path's rule of one command.
            match client.query_typed(&statement, &[]).await {
                Ok(r) => r,
                Err(e) => return Ok(Err(query_error(e))),
            }
        } else {
            // As Spin: the server infers each placeholder's type, then every value is checked
            // against it before anything runs.
            match client.query(statement.as_str(), &refs).await {
                Ok(r) => r,
                Err(e) => return Ok(Err(query_error(e))),
            }
        };
        Ok(types::row_set(&rows).map_err(|e| Error::QueryFailed(wit::QueryError::Text(e))))
    }
}

impl wit::Host for PgView<'_> {}

impl wit::HostConnection for PgView<'_> {
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
        if let Err(msg) = config_allowed(&self.ctx.allowed, &config) {
            tracing::warn!(component = %self.ctx.component, "postgres address denied by allowed_outbound_hosts");
            return Ok(Err(Error::ConnectionFailed(msg)));
        }
        let pool = match self.ctx.pools.pool(&address, config) {
            Ok(p) => p,
            Err(e) => return Ok(Err(Error::ConnectionFailed(e))),
        };
        match pool.get().await {
            Ok(obj) => Ok(Ok(self.table.push(PgConnection {
                obj: Some(obj),
                // Under Spin's recycling a connection may come back inside a transaction.
                untouched: self.ctx.pools.reset() == pool::PgReset::Host,
                cached: self.ctx.pools.gate().filter() == StatementFilter::Backend,
                reset: self.ctx.pools.reset(),
            })?)),
            Err(e) => Ok(Err(Error::ConnectionFailed(e.to_string()))),
        }
    }

    async fn query(
        &mut self,
        c: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<RowSet, Error>> {
        if let Some(e) = self.refused(&statement) {
            return Ok(Err(e));
        }
        self.first_use(&c)?;
        let result = self.pg_query(c, statement, params).await?;
        if self.ctx.pools.compat().refuses_zero_row_queries()
            && result.as_ref().is_ok_and(|rs| rs.rows.is_empty())
        {
            tracing::warn!(component = %self.ctx.component, "spin-compat 4.0: a Postgres query returned no row (Spin #3671)");
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
        if let Some(e) = self.refused(&statement) {
            return Ok(Err(e));
        }
        if self.first_use(&c)? && params.is_empty() && bare_rollback(&statement) {
            // Outside any transaction: Postgres would answer with a warning and no rows.
            return Ok(Ok(0));
        }
        let params = match types::to_sql_params(params) {
            Ok(p) => p,
            Err(e) => return Ok(Err(Error::ValueConversionFailed(e))),
        };
        let cached = self.cached(&c)?;
        let client = self.pg_client(&c)?;
        let refs = types::param_refs(&params);
        if cached {
            let stmt = match cache::prepared(client, &statement).await {
                Ok(s) => s,
                Err(e) => return Ok(Err(query_error(e))),
            };
            let result = client.execute(&stmt, &refs).await;
            if let Err(e) = &result {
                cache::after_error(client, &statement, e);
            }
            return Ok(result.map_err(query_error));
        }
        if refs.is_empty() {
            // `BEGIN`, `COMMIT`, DDL...: one round trip on the unnamed statement, with the
            // same rule as a prepared statement: one command per call.
            return Ok(client
                .execute_typed(&statement, &[])
                .await
                .map_err(query_error));
        }
        Ok(client
            .execute(statement.as_str(), &refs)
            .await
            .map_err(query_error))
    }

    async fn drop(&mut self, c: Resource<PgConnection>) -> wasmtime::Result<()> {
        self.table.delete(c)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::bare_rollback;

    #[test]
    fn only_a_bare_rollback_is_answered_locally() {
        for yes in ["ROLLBACK", "rollback", " Rollback ;", "ROLLBACK;"] {
            assert!(bare_rollback(yes), "{yes}");
        }
        for no in [
            "ROLLBACK TO SAVEPOINT a",
            "ROLLBACK AND CHAIN",
            "ROLLBACK PREPARED 'x'",
            "COMMIT",
            "ROLLBACK; SELECT 1",
            "",
        ] {
            assert!(!bare_rollback(no), "{no}");
        }
    }
}
