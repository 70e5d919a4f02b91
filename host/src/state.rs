//! Per-request store data: what one guest instance can reach.
//!
//! A fresh [`HostState`] is built for every request (and every chained request), so
//! nothing a guest leaves behind in host resources survives its request.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::outbound_http::OutboundHttp;
use crate::runtime::LoadedComponent;
use crate::services::Services;

/// The `T` of every `Store<T>` the host creates.
pub struct HostState {
    pub(crate) wasi: WasiCtx,
    pub(crate) http: WasiHttpCtx,
    pub(crate) table: ResourceTable,
    pub(crate) outbound: OutboundHttp,
    pub(crate) component: Arc<LoadedComponent>,
    pub(crate) services: Arc<Services>,
}

impl HostState {
    /// The component this store runs.
    pub fn component(&self) -> &LoadedComponent {
        &self.component
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
