//! tenantgate's host: runs a Spin application (`spin.toml` + wasm components) on
//! wasmtime, implementing the part of Spin's behaviour the app uses.
//!
//! The crate reads in layers, each importing only those below it:
//! - the app's description: [`manifest`] (with [`routes`]), [`variables`]'s resolution,
//!   [`allowed_hosts`], [`runtime_config`];
//! - capabilities, each a module with its own per-component state, a view of the
//!   store's data and one `add_to_linker`: [`key_value`], [`outbound_pg`],
//!   [`outbound_redis`], [`variables`], [`outbound_http`] (with chaining behind the
//!   [`outbound_http::ServiceChain`] port);
//! - the engine ([`engine`]), the shared services ([`services`]), the store data and
//!   linker ([`state`]), and the loaded app that runs one request in a fresh instance
//!   ([`runtime`]);
//! - the HTTP trigger ([`trigger`]): server, routing, `spin-*` headers, chaining, the
//!   host's own JSON errors;
//! - [`up`]: `tenantgate up`, its flags and the serve loop.
//!
//! Only the runtime lives here: the control plane's commands are `tenantgate-control`
//! (`control/`), and the binary that offers both is `cli/`.
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! use tenantgate_host::runtime::{AppRuntime, LoadOptions};
//! use tenantgate_host::trigger::server::{shutdown_signal, Server, ServerOptions};
//! let rt = AppRuntime::load(LoadOptions {
//!     manifest: "spin.toml".into(),
//!     ..Default::default()
//! })
//! .await?;
//! let server = Server::bind(rt, "127.0.0.1:3000".parse()?, ServerOptions::default()).await?;
//! server.run(shutdown_signal()).await?;
//! # Ok(()) }
//! ```

pub mod allowed_hosts;
pub mod engine;
pub mod key_value;
pub mod manifest;
pub mod outbound_http;
pub mod outbound_pg;
pub mod outbound_redis;
pub mod routes;
pub mod runtime;
pub mod runtime_config;
pub mod services;
pub mod spin_compat;
pub mod state;
pub mod trigger;
pub mod up;
pub mod variables;
