//! `tenantgate jobs`: the control plane's scheduled work, one round at a time.
//!
//! Each round:
//! 1. **purge**: every deleted tenant past its grace period is purged (its rows, its own
//!    schema, its control-plane entries; `tenant.purged` in the audit log), exactly as
//!    `tenantgate tenant purge --due` does;
//! 2. **domains**: every pending custom-domain claim is checked again (DNS TXT, then the HTTP
//!    token) and verified when its proof is in place, so a claim added through the
//!    organisation API routes once its owner publishes the record;
//! 3. **sso**: every tenant's identity-provider keys and metadata are refreshed (a failure is
//!    recorded on the provider; logins keep using the cached keys up to their bound).
//!
//! `--once` runs one round and exits (1 if any step failed): for cron, a systemd timer or a
//! Kubernetes CronJob. `--every SECS` runs a round, sleeps, and repeats until SIGINT/SIGTERM:
//! for a long-running sidecar (the demo starts one). One step's or one tenant's failure is
//! reported and does not stop the others.

use std::net::SocketAddr;
use std::time::Duration;

use crate::domains::{self, State, VerifyOptions};
use crate::{purge, sso, Database, Targets};
use clap::Args;

use super::conn::Conn;

#[derive(Args)]
pub struct JobsArgs {
    #[command(flatten)]
    conn: Conn,
    /// Run one round and exit (exit code 1 if a step failed).
    #[arg(long, conflicts_with = "every")]
    once: bool,
    /// Run a round every SECS seconds until stopped.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=604_800))]
    every: Option<u64>,
    /// Skip the purge step.
    #[arg(long)]
    no_purge: bool,
    /// Skip checking pending custom domains.
    #[arg(long)]
    no_domains: bool,
    /// Skip refreshing identity-provider keys.
    #[arg(long)]
    no_sso_refresh: bool,
    /// The DNS server domain checks ask, IP:PORT (default: the system's).
    #[arg(long)]
    dns_server: Option<SocketAddr>,
    /// The port of the domains' HTTP check.
    #[arg(long, default_value_t = 80)]
    http_port: u16,
    /// Also fetch HTTP tokens from loopback, private and link-local addresses.
    #[arg(long)]
    allow_private_addresses: bool,
}

/// Runs the jobs as asked, `--every` until `stop` completes (the binary passes its shutdown
/// signal); `Ok(false)` when a `--once` round had a failure.
pub async fn run(
    args: JobsArgs,
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<bool> {
    let targets = args.conn.targets()?;
    let Some(every) = args.every else {
        if !args.once {
            anyhow::bail!("say how often: --once, or --every SECS");
        }
        return Ok(round(&targets, &args).await);
    };
    let mut stop = std::pin::pin!(stop);
    loop {
        round(&targets, &args).await;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(every)) => {}
            _ = &mut stop => return Ok(true),
        }
    }
}

/// One round; whether every step succeeded.
async fn round(targets: &Targets, args: &JobsArgs) -> bool {
    let mut ok = true;
    if !args.no_purge {
        ok &= report("purge", purge_due(targets).await);
    }
    if !args.no_domains {
        let opts = VerifyOptions {
            dns_server: args.dns_server,
            http_port: args.http_port,
            allow_private_addresses: args.allow_private_addresses,
            ..VerifyOptions::default()
        };
        ok &= report("domains", verify_pending(targets, &opts).await);
    }
    if !args.no_sso_refresh {
        ok &= report("sso", refresh_providers(targets).await);
    }
    ok
}

/// Prints a step's failures; whether it had none.
fn report(step: &str, outcome: anyhow::Result<Vec<String>>) -> bool {
    match outcome {
        Ok(failures) if failures.is_empty() => true,
        Ok(failures) => {
            for f in failures {
                eprintln!("jobs: {step}: {f}");
            }
            false
        }
        Err(e) => {
            eprintln!("jobs: {step}: {e:#}");
            false
        }
    }
}

async fn purge_due(targets: &Targets) -> anyhow::Result<Vec<String>> {
    let control = targets.connect(&Database::Control).await?;
    let mut failures = Vec::new();
    for slug in purge::purge_due(&control).await? {
        match purge::purge(targets, &slug).await {
            Ok(r) => println!(
                "jobs: purge: purged tenant {} ({}) from {}",
                r.slug, r.id, r.placement
            ),
            Err(e) => failures.push(format!("tenant {slug:?}: {e}")),
        }
    }
    Ok(failures)
}

/// Pending claims whose proof is not in place yet stay pending silently: that is the common
/// case, not a failure.
async fn verify_pending(targets: &Targets, opts: &VerifyOptions) -> anyhow::Result<Vec<String>> {
    for claim in domains::list(targets, None).await? {
        if claim.state != State::Pending {
            continue;
        }
        if let Ok(v) = domains::verify(targets, &claim.slug, &claim.domain, opts).await {
            println!(
                "jobs: domains: verified {} for tenant {} by {}",
                v.domain.domain,
                v.domain.slug,
                v.method.unwrap_or("an earlier check")
            );
        }
    }
    Ok(Vec::new())
}

async fn refresh_providers(targets: &Targets) -> anyhow::Result<Vec<String>> {
    let control = targets.connect(&Database::Control).await?;
    Ok(sso::refresh_all(&control)
        .await?
        .into_iter()
        .map(|(slug, e)| format!("tenant {slug:?}: {e}"))
        .collect())
}
