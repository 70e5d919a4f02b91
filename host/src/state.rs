//! Per-request store data: what one guest instance can reach, and the linker that
//! gives it to the guest.
//!
//! A fresh [`HostState`] is built for every request (and every chained request), so
//! nothing a guest leaves behind in host resources survives its request. Each
//! capability keeps its own state ([`Capabilities`], built once per component) and is
//! reached through its own view; [`linker`] is the one place that lists them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use wasmtime::component::{Linker, ResourceTable};
use wasmtime::ResourceLimiter;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::key_value::{KeyValue, KeyValueView};
use crate::outbound_http::OutboundHttp;
use crate::outbound_pg::{OutboundPg, PgView};
use crate::outbound_redis::{OutboundRedis, RedisView};
use crate::variables::{Variables, VariablesView};

/// What one component may reach, built once at start-up.
pub struct Capabilities {
    /// Its key-value stores.
    pub key_value: KeyValue,
    /// Postgres through its allow-list.
    pub postgres: OutboundPg,
    /// Redis through its allow-list.
    pub redis: OutboundRedis,
    /// Its variables.
    pub variables: Variables,
}

/// The `T` of every `Store<T>` the host creates.
pub struct HostState {
    pub(crate) wasi: WasiCtx,
    pub(crate) http: WasiHttpCtx,
    pub(crate) table: ResourceTable,
    pub(crate) outbound: OutboundHttp,
    pub(crate) caps: Arc<Capabilities>,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) instance: Option<LiveInstance>,
}

impl HostState {
    /// Store data for a component with `caps`, its outbound HTTP and its memory cap.
    pub(crate) fn new(
        wasi: WasiCtx,
        caps: Arc<Capabilities>,
        outbound: OutboundHttp,
        max_memory_bytes: usize,
    ) -> HostState {
        HostState {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            outbound,
            caps,
            limiter: MemoryLimiter::new(max_memory_bytes),
            instance: None,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

/// The linker every component is pre-instantiated with: WASI, `wasi:http`, and each
/// capability through its own view.
pub(crate) fn linker(engine: &wasmtime::Engine) -> anyhow::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    crate::variables::add_to_linker(&mut linker, |s: &mut HostState| {
        VariablesView(&s.caps.variables)
    })?;
    crate::key_value::add_to_linker(&mut linker, |s: &mut HostState| KeyValueView {
        ctx: &s.caps.key_value,
        table: &mut s.table,
    })?;
    crate::outbound_pg::add_to_linker(&mut linker, |s: &mut HostState| PgView {
        ctx: &s.caps.postgres,
        table: &mut s.table,
    })?;
    crate::outbound_redis::add_to_linker(&mut linker, |s: &mut HostState| RedisView {
        ctx: &s.caps.redis,
        table: &mut s.table,
    })?;
    Ok(linker)
}

/// The store's [`ResourceLimiter`]: linear memory up to the cap, and a record of
/// whether the guest ever asked for more, so that the trap that usually follows is
/// reported as what it is.
pub(crate) struct MemoryLimiter {
    max_memory_bytes: usize,
    exhausted: bool,
}

impl MemoryLimiter {
    fn new(max_memory_bytes: usize) -> MemoryLimiter {
        MemoryLimiter {
            max_memory_bytes,
            exhausted: false,
        }
    }

    /// Whether a memory growth was refused.
    pub(crate) fn exhausted(&self) -> bool {
        self.exhausted
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let limit = maximum.map_or(self.max_memory_bytes, |m| m.min(self.max_memory_bytes));
        if desired > limit {
            self.exhausted = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.exhausted = true;
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(maximum.is_none_or(|m| desired <= m))
    }
}

/// Counts one live guest instance (a pool slot in use) until dropped with its store.
pub(crate) struct LiveInstance(Arc<AtomicUsize>);

impl LiveInstance {
    pub(crate) fn new(count: Arc<AtomicUsize>) -> LiveInstance {
        count.fetch_add(1, Ordering::SeqCst);
        LiveInstance(count)
    }
}

impl Drop for LiveInstance {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
