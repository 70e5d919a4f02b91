//! `tenantgate plan ...`, `tenantgate tenant limits ...` and `tenantgate usage ...`: plans, a
//! tenant's rate limits and quota, and its metered requests (README "Rate limits").

use std::process::ExitCode;

use crate::limits::{self, Change};
use crate::{usage, Database};
use clap::{Args, Subcommand, ValueEnum};

use super::conn::Conn;

/// How a command prints what it read.
#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// For people.
    Table,
    /// JSON.
    Json,
    /// CSV with a header line (usage only).
    Csv,
}

/// The changes every limits command takes.
#[derive(Args)]
pub struct LimitArgs {
    /// Set a rate: `KIND=REQUESTS/PERIOD[:BURST]` (repeatable). Kinds: tenant (signed-in traffic),
    /// user (per user), anonymous (all anonymous traffic), client (per anonymous address), read,
    /// write (per user or address, non-safe methods), auth (per user or address, /auth/).
    /// Periods: 30s, 1m, 1h, 1d. Burst defaults to a tenth of the requests.
    #[arg(long = "set", value_name = "KIND=RATE")]
    set: Vec<String>,
    /// Remove a limit (repeatable): KIND or monthly_requests.
    #[arg(long = "unset", value_name = "KIND")]
    unset: Vec<String>,
    /// The monthly quota of signed-in requests.
    #[arg(long, value_name = "REQUESTS")]
    quota: Option<u64>,
}

impl LimitArgs {
    fn changes(&self, inherit: &[String]) -> anyhow::Result<Vec<Change>> {
        let mut out = Vec::new();
        for s in &self.set {
            out.push(limits::parse_set(s)?);
        }
        for k in &self.unset {
            let kind = limits::check_kind(k)?;
            out.push(if kind == "monthly_requests" {
                Change::Quota(None)
            } else {
                Change::Unset(kind)
            });
        }
        for k in inherit {
            out.push(Change::Inherit(limits::check_kind(k)?));
        }
        if let Some(q) = self.quota {
            out.push(Change::Quota(Some(q)));
        }
        Ok(out)
    }
}

#[derive(Subcommand)]
pub enum PlanCommand {
    /// List plans with their limits and how many tenants are on each.
    List {
        #[command(flatten)]
        conn: Conn,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Show one plan.
    Show {
        #[command(flatten)]
        conn: Conn,
        /// The plan's id.
        id: String,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Create a plan or change its limits (audited; in effect within 5 s on every instance).
    Set {
        #[command(flatten)]
        conn: Conn,
        /// The plan's id.
        id: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        limits: LimitArgs,
    },
}

/// `tenant limits SLUG [changes]`: without changes, shows them.
#[derive(Args)]
pub struct TenantLimitsArgs {
    #[command(flatten)]
    conn: Conn,
    /// The tenant's slug.
    slug: String,
    /// Move the tenant to this plan.
    #[arg(long)]
    plan: Option<String>,
    /// Drop every override first (back to the plan's limits).
    #[arg(long)]
    clear: bool,
    /// Drop this override only (repeatable): the plan's limit applies again.
    #[arg(long = "inherit", value_name = "KIND")]
    inherit: Vec<String>,
    #[command(flatten)]
    limits: LimitArgs,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// `usage SLUG`.
#[derive(Args)]
pub struct UsageArgs {
    #[command(flatten)]
    conn: Conn,
    /// The tenant's slug.
    slug: String,
    /// First day, YYYY-MM-DD (default: the first of this month, UTC).
    #[arg(long)]
    from: Option<String>,
    /// Last day, YYYY-MM-DD (default: today, UTC).
    #[arg(long)]
    to: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

fn print_plan(p: &limits::Plan) {
    println!("{} ({}), {} tenant(s)", p.id, p.name, p.tenants);
    for line in limits::describe(&p.limits) {
        println!("  {line}");
    }
}

pub async fn plan(cmd: PlanCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PlanCommand::List { conn, format } => {
            let control = conn.targets()?.connect(&Database::Control).await?;
            let plans = limits::plans(&control).await?;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&plans)?),
                _ => plans.iter().for_each(print_plan),
            }
        }
        PlanCommand::Show { conn, id, format } => {
            let control = conn.targets()?.connect(&Database::Control).await?;
            let plan = limits::plans(&control)
                .await?
                .into_iter()
                .find(|p| p.id == id)
                .ok_or(crate::Error::UnknownPlan)?;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&plan)?),
                _ => print_plan(&plan),
            }
        }
        PlanCommand::Set {
            conn,
            id,
            name,
            limits: args,
        } => {
            let mut control = conn.targets()?.connect(&Database::Control).await?;
            let plan =
                limits::set_plan(&mut control, &id, name.as_deref(), &args.changes(&[])?).await?;
            print_plan(&plan);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn tenant_limits(args: TenantLimitsArgs) -> anyhow::Result<ExitCode> {
    let mut control = args.conn.targets()?.connect(&Database::Control).await?;
    let changes = args.limits.changes(&args.inherit)?;
    let l = if changes.is_empty() && !args.clear && args.plan.is_none() {
        limits::tenant_limits(&control, &args.slug).await?
    } else {
        limits::set_tenant_limits(
            &mut control,
            &args.slug,
            args.plan.as_deref(),
            args.clear,
            &changes,
        )
        .await?
    };
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&l)?),
        _ => {
            println!("{} on plan {}", l.slug, l.plan);
            println!("in effect:");
            for line in limits::describe(&l.effective) {
                println!("  {line}");
            }
            let overrides = limits::describe(&l.overrides);
            if !overrides.is_empty() {
                println!("overrides of the plan:");
                for line in overrides {
                    println!("  {line}");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn usage(args: UsageArgs) -> anyhow::Result<ExitCode> {
    let control = args.conn.targets()?.connect(&Database::Control).await?;
    let rows = usage::usage(
        &control,
        &args.slug,
        args.from.as_deref(),
        args.to.as_deref(),
    )
    .await?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        Format::Csv => print!("{}", usage::csv(&rows)),
        Format::Table => {
            println!(
                "{:<10}  {:<5}  {:<6}  {:<9}  {:>10}",
                "day", "class", "status", "audience", "requests"
            );
            for r in &rows {
                println!(
                    "{:<10}  {:<5}  {:<6}  {:<9}  {:>10}",
                    r.day, r.route_class, r.status_family, r.audience, r.requests
                );
            }
            let total: i64 = rows.iter().map(|r| r.requests).sum();
            println!("total {total}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
