//! `tenantgate`: the project's command-line entry point.
//!
//! `tenantgate up` serves the Spin application described by `spin.toml` on wasmtime,
//! taking Spin's own flags where they apply.

mod admin;
mod jobs;
mod limits_cli;
mod platform_cli;
mod sso_cli;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use tenantgate_host::engine::Limits;
use tenantgate_host::runtime::{AppRuntime, LoadOptions};
use tenantgate_host::trigger::server::{shutdown_signal, Server, ServerOptions};

/// mimalloc instead of glibc's malloc: a fifth less host CPU per tasks request, for ~45 MiB
/// more idle RSS (BENCHMARKS.md, "The host's allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "tenantgate",
    version,
    about = "Multi-tenant edge gateway: runs the tenantgate Spin app"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the application described by spin.toml (like `spin up`).
    Up(UpArgs),
    /// Apply migrations to the control plane and every placement (with a canary option).
    Migrate(admin::MigrateArgs),
    /// Provision, list, show and move tenants.
    #[command(subcommand)]
    Tenant(admin::TenantCommand),
    /// Claim, verify, revoke and list tenants' custom domains.
    #[command(subcommand)]
    Domain(admin::DomainCommand),
    /// Audits: `audit isolation`.
    #[command(subcommand)]
    Audit(admin::AuditCommand),
    /// List, show, create and change plans and their rate limits and quotas.
    #[command(subcommand)]
    Plan(limits_cli::PlanCommand),
    /// A tenant's metered requests per day, route class, status family and audience.
    Usage(limits_cli::UsageArgs),
    /// A tenant's identity provider (OIDC or SAML): set, show, remove, refresh its keys.
    #[command(subcommand)]
    Sso(sso_cli::SsoCommand),
    /// Scheduled work: purge tenants past their grace period, verify pending custom domains,
    /// refresh identity-provider keys (`--once` for cron, `--every SECS` as a sidecar).
    Jobs(jobs::JobsArgs),
    /// A local platform issuer for the demo and development: `jwks` (its `jwt_issuers`
    /// entry) and `token` (a platform admin's token for the console at /platform).
    #[command(subcommand)]
    Platform(platform_cli::PlatformCommand),
}

#[derive(Args)]
struct UpArgs {
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
    #[arg(long, default_value_t = tenantgate_host::outbound_pg::DEFAULT_POOL_SIZE)]
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
    spin_compat: tenantgate_host::spin_compat::SpinCompat,
    /// Which statements components may send to Postgres: `backend` (the default) accepts
    /// queries, INSERT/UPDATE/DELETE/MERGE and transaction control only, parsed, and refuses
    /// the rest (ALTER ROLE, SET, COPY, EXPLAIN, LISTEN, DDL, ...); `any` sends everything,
    /// as Spin does.
    #[arg(long, env = "TENANTGATE_PG_STATEMENTS", default_value = "backend")]
    pg_statements: tenantgate_host::outbound_pg::StatementFilter,
    /// How pooled Postgres connections are cleaned between requests: `host` (the default)
    /// rolls back and resets every piece of session state before a connection is reused;
    /// `spin` recycles them as Spin does (no rollback: a transaction a request leaves open
    /// reaches the next one), to prove a component's own defences.
    #[arg(long, env = "TENANTGATE_PG_RESET", default_value = "host")]
    pg_reset: tenantgate_host::outbound_pg::PgReset,
}

fn main() -> std::process::ExitCode {
    // Log lines are written by a background thread: a request never waits on stderr.
    let (writer, _flush_on_exit) = tracing_appender::non_blocking(std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TENANTGATE_LOG")
                .unwrap_or_else(|_| "info,wasmtime=warn,cranelift=warn,tokio_postgres=warn".into()),
        )
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(writer)
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return admin::finish(Err(e.into())),
    };
    admin::finish(rt.block_on(async {
        match cli.command {
            Command::Up(args) => up(args).await.map(|()| std::process::ExitCode::SUCCESS),
            Command::Migrate(args) => admin::migrate(args).await,
            Command::Tenant(cmd) => admin::tenant(cmd).await,
            Command::Domain(cmd) => admin::domain(cmd).await,
            Command::Audit(cmd) => admin::audit(cmd).await,
            Command::Plan(cmd) => limits_cli::plan(cmd).await,
            Command::Usage(args) => limits_cli::usage(args).await,
            Command::Sso(cmd) => sso_cli::run(cmd).await,
            Command::Platform(cmd) => platform_cli::run(cmd),
            Command::Jobs(args) => jobs::run(args).await.map(|ok| {
                if ok {
                    std::process::ExitCode::SUCCESS
                } else {
                    std::process::ExitCode::FAILURE
                }
            }),
        }
    }))
}

async fn up(args: UpArgs) -> anyhow::Result<()> {
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
