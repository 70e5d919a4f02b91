//! `tenantgate`: the project's one binary. Its parts live where the architecture puts them:
//! `tenantgate up` is the host (`host/`, [`tenantgate_host::up`]), every other subcommand is
//! the control plane's (`control/`, [`tenantgate_control::cli`]). This file only parses the
//! command line, sets up logging and the runtime, and dispatches.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tenantgate_host::trigger::server::shutdown_signal;

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
    Up(tenantgate_host::up::UpArgs),
    #[command(flatten)]
    Control(tenantgate_control::cli::Command),
}

fn main() -> ExitCode {
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
    let finish = tenantgate_control::cli::finish;
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return finish(Err(e.into())),
    };
    finish(rt.block_on(async {
        match cli.command {
            Command::Up(args) => tenantgate_host::up::run(args)
                .await
                .map(|()| ExitCode::SUCCESS),
            Command::Control(cmd) => tenantgate_control::cli::run(cmd, shutdown_signal()).await,
        }
    }))
}
