//! `tenantgate up`: serves the Spin application `spin.toml` describes, taking Spin's own
//! flags where they apply (`--listen`, `--from`, `--runtime-config-file`) and the host's
//! limits and strictness settings. The `tenantgate` binary (`cli/`) parses [`UpArgs`] and
//! calls [`run`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

use crate::engine::Limits;
use crate::runtime::{AppRuntime, LoadOptions};
use crate::trigger::server::{shutdown_signal, Server, ServerOptions};

/// The flags of `tenantgate up`.
#[derive(Args)]
pub struct UpArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// The application manifest (a file, or a directory holding spin.toml).
    #[arg(short = 'f', long = "from", default_value = "spin.toml")]
    from: PathBuf,
    /// Spin-style runtime config (key-value store backends).
    #[arg(long = "runtime-config-file")]
    runtime_config_file: Option<PathBuf>,
    /// Directory for compiled components (default: .tenantgate/cache beside spin.toml).
    #[arg(long, env = "TENANTGATE_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Do not cache compiled components.
    #[arg(long)]
    no_cache: bool,
    /// Wall-clock limit per request, in seconds.
    #[arg(long, default_value_t = 30)]
    request_timeout_secs: u64,
    /// Largest linear memory a guest instance may use, in MiB.
    #[arg(long, default_value_t = 128)]
    max_memory_mib: usize,
    /// Guest instances alive at once; requests beyond this get 503.
    #[arg(long, default_value_t = 1000)]
    max_instances: u32,
    /// Connections per Postgres connection string.
    #[arg(long, default_value_t = crate::outbound_pg::DEFAULT_POOL_SIZE)]
    pg_pool_size: usize,
    /// Seconds a client has to send a complete request head, from connecting or from
    /// the end of its previous response.
    #[arg(long, default_value_t = 10)]
    header_read_timeout_secs: u64,
    /// Seconds a connection may stay open with no request in flight.
    #[arg(long, default_value_t = 5)]
    keep_alive_timeout_secs: u64,
    /// Connections open at once; beyond this, new connections wait to be accepted.
    /// Lowered to fit the file-descriptor limit (keeping 64 descriptors free).
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Reproduce a released Spin's known defects, so components that would misbehave there
    /// fail here: `4.0` refuses a Postgres query that returns no row, as Spin 4.0.0-4.0.2
    /// never answers one (Spin #3671). `latest` (the default) reproduces none.
    #[arg(long, env = "TENANTGATE_SPIN_COMPAT", default_value = "latest")]
    spin_compat: crate::spin_compat::SpinCompat,
    /// Which statements components may send to Postgres: `backend` (the default) accepts
    /// queries, INSERT/UPDATE/DELETE/MERGE and transaction control only, parsed, and refuses
    /// the rest (ALTER ROLE, SET, COPY, EXPLAIN, LISTEN, DDL, ...); `any` sends everything,
    /// as Spin does.
    #[arg(long, env = "TENANTGATE_PG_STATEMENTS", default_value = "backend")]
    pg_statements: crate::outbound_pg::StatementFilter,
    /// How pooled Postgres connections are cleaned between requests: `host` (the default)
    /// rolls back and resets every piece of session state before a connection is reused;
    /// `spin` recycles them as Spin does (no rollback: a transaction a request leaves open
    /// reaches the next one), to prove a component's own defences.
    #[arg(long, env = "TENANTGATE_PG_RESET", default_value = "host")]
    pg_reset: crate::outbound_pg::PgReset,
}

/// Loads the app, binds the listener and serves until SIGINT or SIGTERM.
pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let manifest = if args.from.is_dir() {
        args.from.join("spin.toml")
    } else {
        args.from.clone()
    };
    let app_dir = manifest
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                p.to_path_buf()
            }
        })
        .unwrap_or_else(|| PathBuf::from("."));
    let cache_dir = if args.no_cache {
        None
    } else {
        // wasmtime's cache wants an absolute path.
        let dir = args
            .cache_dir
            .unwrap_or_else(|| app_dir.join(".tenantgate/cache"));
        Some(
            std::path::absolute(&dir)
                .with_context(|| format!("cache directory {}", dir.display()))?,
        )
    };
    let rt = AppRuntime::load(LoadOptions {
        manifest: manifest.clone(),
        runtime_config: args.runtime_config_file,
        limits: Limits {
            max_memory_bytes: args.max_memory_mib << 20,
            request_timeout: Duration::from_secs(args.request_timeout_secs),
            max_instances: args.max_instances,
            pg_pool_size: args.pg_pool_size,
            spin_compat: args.spin_compat,
            pg_statements: args.pg_statements,
            pg_reset: args.pg_reset,
        },
        cache_dir,
        env: None,
    })
    .await
    .with_context(|| format!("loading {}", manifest.display()))?;
    let server = Server::bind(
        rt.clone(),
        args.listen,
        ServerOptions {
            header_read_timeout: Duration::from_secs(args.header_read_timeout_secs.max(1)),
            keep_alive_timeout: Duration::from_secs(args.keep_alive_timeout_secs.max(1)),
            max_connections: args.max_connections,
            ..ServerOptions::default()
        },
    )
    .await?;
    let addr = server.local_addr();
    println!("Serving http://{addr}");
    println!("Available Routes:");
    for (route, component) in rt.app().router.public_routes() {
        println!("  {component}: http://{addr}{route}");
    }
    server.run(shutdown_signal()).await
}
