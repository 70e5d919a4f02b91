//! The control plane's command line: every `tenantgate` subcommand but `up` (which is the
//! host's, `tenantgate_host::up`). The `tenantgate` binary (`cli/`) puts the two together.
//!
//! Each command parses its flags with clap, calls the library, and prints; this is the edge
//! where the library's typed errors become `anyhow` and are printed with their causes
//! ([`finish`]). One module per command group:
//!
//! - [`conn`]: the connection every command takes (`--database-url`, `--target`, migrations);
//! - [`admin`]: `migrate`, `tenant ...`, `domain ...`, `audit isolation`;
//! - [`limits`]: `plan ...`, `tenant limits`, `usage`;
//! - [`sso`]: `sso set | show | remove | refresh | sp-metadata`;
//! - [`jobs`]: the scheduled work (`--once`, `--every`);
//! - [`platform`]: the local platform issuer (`jwks`, `token`).

use std::future::Future;
use std::process::ExitCode;

use clap::Subcommand;

pub mod admin;
pub mod conn;
pub mod jobs;
pub mod limits;
pub mod platform;
pub mod sso;

/// The control plane's subcommands.
#[derive(Subcommand)]
pub enum Command {
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
    Plan(limits::PlanCommand),
    /// A tenant's metered requests per day, route class, status family and audience.
    Usage(limits::UsageArgs),
    /// A tenant's identity provider (OIDC or SAML): set, show, remove, refresh its keys.
    #[command(subcommand)]
    Sso(sso::SsoCommand),
    /// Scheduled work: purge tenants past their grace period, verify pending custom domains,
    /// refresh identity-provider keys (`--once` for cron, `--every SECS` as a sidecar).
    Jobs(jobs::JobsArgs),
    /// A local platform issuer for the demo and development: `jwks` (its `jwt_issuers`
    /// entry) and `token` (a platform admin's token for the console at /platform).
    #[command(subcommand)]
    Platform(platform::PlatformCommand),
}

/// Runs one command; `stop` ends a long-running one (`jobs --every`).
pub async fn run(cmd: Command, stop: impl Future<Output = ()>) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Migrate(args) => admin::migrate(args).await,
        Command::Tenant(cmd) => admin::tenant(cmd).await,
        Command::Domain(cmd) => admin::domain(cmd).await,
        Command::Audit(cmd) => admin::audit(cmd).await,
        Command::Plan(cmd) => limits::plan(cmd).await,
        Command::Usage(args) => limits::usage(args).await,
        Command::Sso(cmd) => sso::run(cmd).await,
        Command::Platform(cmd) => platform::run(cmd),
        Command::Jobs(args) => Ok(if jobs::run(args, stop).await? {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }),
    }
}

/// Prints the error with its causes ([`crate::report`]) and gives exit code 1, or the
/// command's own code.
pub fn finish(result: anyhow::Result<ExitCode>) -> ExitCode {
    result.unwrap_or_else(|e| {
        eprintln!("error: {}", crate::report(e.as_ref()));
        ExitCode::FAILURE
    })
}
