//! Outbound Redis (`fermyon:spin/redis`): `open` checks the address against the
//! component's `allowed_outbound_hosts` (scheme `redis`, host, port) before any
//! connection is made. Connections are multiplexed and shared per address
//! ([`RedisClients`]): one reconnecting connection per address, opened by the first `open`
//! that succeeds, so a request does not pay a TCP connect; a server that goes away fails
//! the commands sent meanwhile (1 s response and connect timeouts) and is reconnected to
//! when it is back, without restarting the host.
//!
//! Each component gets an [`OutboundRedis`]; [`add_to_linker`] adds the interface,
//! reached through a [`RedisView`] of the store's data.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

use crate::allowed_hosts::AllowedHosts;
use bindings::fermyon::spin::redis::{self as wit, Error, RedisParameter, RedisResult};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        inline: "
            package tenantgate:outbound-redis;
            world outbound-redis {
                import fermyon:spin/redis@2.0.0;
            }
        ",
        imports: { default: async | trappable },
        with: {
            "fermyon:spin/redis.connection": crate::outbound_redis::RedisConnection,
        },
    });
}

/// Shared Redis connections, one per address.
#[derive(Default)]
pub struct RedisClients {
    clients: Mutex<HashMap<String, ConnectionManager>>,
}

/// What one component may reach: the shared clients, through its allow-list.
pub struct OutboundRedis {
    component: String,
    allowed: Arc<AllowedHosts>,
    clients: Arc<RedisClients>,
}

impl OutboundRedis {
    /// Redis for component `component`, allowed to reach what `allowed` lists.
    pub fn new(
        component: &str,
        allowed: Arc<AllowedHosts>,
        clients: Arc<RedisClients>,
    ) -> OutboundRedis {
        OutboundRedis {
            component: component.to_owned(),
            allowed,
            clients,
        }
    }
}

/// The Redis part of one store's data.
pub struct RedisView<'a> {
    /// The component's Redis access.
    pub ctx: &'a OutboundRedis,
    /// The store's resource table (open connections live there).
    pub table: &'a mut ResourceTable,
}

struct RedisData;

impl HasData for RedisData {
    type Data<'a> = RedisView<'a>;
}

/// `fermyon:spin/redis.connection`.
pub struct RedisConnection {
    conn: ConnectionManager,
}

/// Adds `fermyon:spin/redis` to `linker`; `get` finds the view in a store's data.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> RedisView<'_>,
) -> anyhow::Result<()> {
    wit::add_to_linker::<T, RedisData>(linker, get)?;
    Ok(())
}

fn other(e: redis::RedisError) -> Error {
    Error::Other(e.to_string())
}

/// Checks `address` (`redis://host[:port][/db]`) against `allowed`.
pub(crate) fn address_allowed(allowed: &AllowedHosts, address: &str) -> bool {
    let Ok(url) = address.parse::<http::Uri>() else {
        return false;
    };
    let (Some(scheme), Some(host)) = (url.scheme_str(), url.host()) else {
        return false;
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    allowed.allows(scheme, &host, url.port_u16())
}

impl RedisClients {
    /// The shared connection to `address`, connecting first if there is none yet.
    async fn connection(&self, address: &str) -> Result<ConnectionManager, Error> {
        if let Some(c) = self
            .clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(address)
        {
            return Ok(c.clone());
        }
        let client = redis::Client::open(address).map_err(|_| Error::InvalidAddress)?;
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(std::time::Duration::from_secs(1))
            .set_response_timeout(std::time::Duration::from_secs(1));
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(other)?;
        // Two first opens may race: either connection works; keep the first stored.
        let mut map = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        Ok(map.entry(address.to_owned()).or_insert(conn).clone())
    }
}

/// Flattens a reply into `redis-result`s as Spin does (`RedisResults`); maps,
/// attributes, verbatim strings and pushes have no WIT form and, as in Spin, are
/// `other(..)` (Spin's conversion fails with a Redis type error, which it reports as
/// `other`), not `type-error`.
fn convert(value: redis::Value, out: &mut Vec<RedisResult>) -> Result<(), Error> {
    use redis::Value as V;
    let unsupported = |what: &str| {
        Err(Error::Other(format!(
            "Could not convert Redis response - {what}"
        )))
    };
    match value {
        V::Nil => out.push(RedisResult::Nil),
        V::Int(n) => out.push(RedisResult::Int64(n)),
        V::BulkString(b) => out.push(RedisResult::Binary(b)),
        V::SimpleString(s) => out.push(RedisResult::Status(s)),
        V::Okay => out.push(RedisResult::Status("OK".into())),
        V::Array(items) | V::Set(items) => {
            for v in items {
                convert(v, out)?;
            }
        }
        V::Double(d) => out.push(RedisResult::Binary(d.to_string().into_bytes())),
        V::Boolean(b) => out.push(RedisResult::Int64(b as i64)),
        V::BigNumber(n) => out.push(RedisResult::Binary(n.to_string().into_bytes())),
        V::ServerError(e) => return Err(Error::Other(format!("Server error: {e:?}"))),
        V::Map(_) => return unsupported("Redis Map type is not supported"),
        V::Attribute { .. } => return unsupported("Redis Attribute type is not supported"),
        V::VerbatimString { .. } => {
            return unsupported("Redis string with format attribute is not supported")
        }
        V::Push { .. } => return unsupported("Redis Pub/Sub types are not supported"),
    }
    Ok(())
}

/// Spin's `MAX_HOST_BUFFERED_BYTES`: the most `get` or `execute` may return.
pub const MAX_RESULT_BYTES: usize = 128 << 20;

fn over_limit() -> Error {
    Error::Other(format!(
        "query result exceeds limit of {MAX_RESULT_BYTES} bytes"
    ))
}

/// Spin's size of a `redis-result` (`memory_size`).
fn result_size(r: &RedisResult) -> usize {
    std::mem::size_of::<RedisResult>()
        + match r {
            RedisResult::Nil | RedisResult::Int64(_) => 0,
            RedisResult::Binary(b) => b.len(),
            RedisResult::Status(s) => s.len(),
        }
}

impl wit::Host for RedisView<'_> {}

impl RedisView<'_> {
    fn redis_conn(&self, c: &Resource<RedisConnection>) -> wasmtime::Result<ConnectionManager> {
        Ok(self.table.get(c)?.conn.clone())
    }
}

impl wit::HostConnection for RedisView<'_> {
    async fn open(
        &mut self,
        address: String,
    ) -> wasmtime::Result<Result<Resource<RedisConnection>, Error>> {
        if !address_allowed(&self.ctx.allowed, &address) {
            tracing::warn!(component = %self.ctx.component, "redis address denied by allowed_outbound_hosts");
            // Spin reports a refused address as `invalid-address`.
            return Ok(Err(Error::InvalidAddress));
        }
        match self.ctx.clients.connection(&address).await {
            Ok(conn) => Ok(Ok(self.table.push(RedisConnection { conn })?)),
            Err(e) => Ok(Err(e)),
        }
    }

    async fn publish(
        &mut self,
        c: Resource<RedisConnection>,
        channel: String,
        payload: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let mut conn = self.redis_conn(&c)?;
        Ok(redis::cmd("PUBLISH")
            .arg(channel)
            .arg(payload)
            .query_async::<i64>(&mut conn)
            .await
            .map(drop)
            .map_err(other))
    }

    async fn get(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        let mut conn = self.redis_conn(&c)?;
        Ok(redis::cmd("GET")
            .arg(key)
            .query_async::<Option<Vec<u8>>>(&mut conn)
            .await
            .map_err(other)
            .and_then(|v| {
                let size = std::mem::size_of::<Option<Vec<u8>>>() + v.as_ref().map_or(0, Vec::len);
                if size > MAX_RESULT_BYTES {
                    Err(over_limit())
                } else {
                    Ok(v)
                }
            }))
    }

    async fn set(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let mut conn = self.redis_conn(&c)?;
        Ok(redis::cmd("SET")
            .arg(key)
            .arg(value)
            .query_async::<()>(&mut conn)
            .await
            .map_err(other))
    }

    async fn incr(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
    ) -> wasmtime::Result<Result<i64, Error>> {
        let mut conn = self.redis_conn(&c)?;
        // Spin sends `INCRBY key 1` and reports every failure, a value that is not an
        // integer included, as `other(..)`.
        Ok(redis::cmd("INCRBY")
            .arg(key)
            .arg(1)
            .query_async(&mut conn)
            .await
            .map_err(other))
    }

    async fn del(
        &mut self,
        c: Resource<RedisConnection>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<u32, Error>> {
        let mut conn = self.redis_conn(&c)?;
        Ok(redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut conn)
            .await
            .map_err(other))
    }

    async fn sadd(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
        values: Vec<String>,
    ) -> wasmtime::Result<Result<u32, Error>> {
        let mut conn = self.redis_conn(&c)?;
        Ok(redis::cmd("SADD")
            .arg(key)
            .arg(values)
            .query_async(&mut conn)
            .await
            .map_err(|e| {
                // Spin's only `type-error` outside `execute`.
                if e.kind() == redis::ErrorKind::TypeError {
                    Error::TypeError
                } else {
                    other(e)
                }
            }))
    }

    async fn smembers(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
    ) -> wasmtime::Result<Result<Vec<String>, Error>> {
        let mut conn = self.redis_conn(&c)?;
        Ok(redis::cmd("SMEMBERS")
            .arg(key)
            .query_async(&mut conn)
            .await
            .map_err(other))
    }

    async fn srem(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
        values: Vec<String>,
    ) -> wasmtime::Result<Result<u32, Error>> {
        let mut conn = self.redis_conn(&c)?;
        Ok(redis::cmd("SREM")
            .arg(key)
            .arg(values)
            .query_async(&mut conn)
            .await
            .map_err(other))
    }

    async fn execute(
        &mut self,
        c: Resource<RedisConnection>,
        command: String,
        arguments: Vec<RedisParameter>,
    ) -> wasmtime::Result<Result<Vec<RedisResult>, Error>> {
        let mut conn = self.redis_conn(&c)?;
        let mut cmd = redis::cmd(&command);
        for a in arguments {
            match a {
                RedisParameter::Int64(n) => cmd.arg(n),
                RedisParameter::Binary(b) => cmd.arg(b),
            };
        }
        match cmd.query_async::<redis::Value>(&mut conn).await {
            Ok(v) => {
                let mut out = Vec::new();
                Ok(convert(v, &mut out).and_then(|()| {
                    let size = std::mem::size_of::<Vec<RedisResult>>()
                        + out.iter().map(result_size).sum::<usize>();
                    if size > MAX_RESULT_BYTES {
                        Err(over_limit())
                    } else {
                        Ok(out)
                    }
                }))
            }
            Err(e) => Ok(Err(other(e))),
        }
    }

    async fn drop(&mut self, c: Resource<RedisConnection>) -> wasmtime::Result<()> {
        self.table.delete(c)?;
        Ok(())
    }
}
