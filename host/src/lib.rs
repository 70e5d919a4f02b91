//! tenantgate's host: runs a Spin application (`spin.toml` + wasm components) on
//! wasmtime, implementing the part of Spin's behaviour the app uses.
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! use tenantgate_host::runtime::{AppRuntime, LoadOptions};
//! let rt = AppRuntime::load(LoadOptions {
//!     manifest: "spin.toml".into(),
//!     ..Default::default()
//! })
//! .await?;
//! let server = tenantgate_host::server::Server::bind(rt, "127.0.0.1:3000".parse()?).await?;
//! server.run(tenantgate_host::server::shutdown_signal()).await?;
//! # Ok(()) }
//! ```

pub mod allowed_hosts;
pub mod bindings;
pub mod engine;
pub mod kv;
pub mod manifest;
pub mod outbound_http;
pub mod pg;
pub mod redis_host;
pub mod routes;
pub mod runtime;
pub mod runtime_config;
pub mod server;
pub mod services;
pub mod spin_compat;
pub mod state;
pub mod variables;
pub mod variables_host;
