//! `tenantgate migrate`, `tenant ...`, `domain ...`, `audit isolation`: the commands over the
//! library's migrations, tenants, domains and isolation audit.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::conn::Conn;
use crate::create::{self, NewTenant};
use crate::domains::{self, VerifyOptions};
use crate::lifecycle::{self, Lifecycle};
use crate::moves::{self, MoveOptions};
use crate::{export, isolation, migrate, purge, tenant};
use crate::{Database, Placement, Tenant};

#[derive(Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    conn: Conn,
    /// Canary: migrate the control plane and the placements of the first N tenants only.
    #[arg(long)]
    tenants: Option<usize>,
    /// Show what would run; change nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Subcommand)]
pub enum TenantCommand {
    /// Provision a tenant in a placement.
    Create {
        #[command(flatten)]
        conn: Conn,
        /// Its slug, the subdomain label.
        slug: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Plan: free, pro or enterprise.
        #[arg(long, default_value = "free")]
        plan: String,
        #[command(flatten)]
        placement: PlacementArgs,
    },
    /// List tenants and their placements.
    List {
        #[command(flatten)]
        conn: Conn,
    },
    /// A tenant, its placement, row counts, domains and members.
    Show {
        #[command(flatten)]
        conn: Conn,
        /// The tenant's slug.
        slug: String,
    },
    /// Suspend a tenant: its requests get 403 tenant_suspended (within the gateway's 5-second
    /// cache bound); its data, domains and members are kept.
    Suspend {
        #[command(flatten)]
        conn: Conn,
        /// The tenant's slug.
        slug: String,
        /// Why, recorded in the audit log.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Show or change a tenant's rate limits and quota (overrides of its plan), or move it to
    /// another plan. Changes are audited and in effect within 5 s.
    Limits(super::limits::TenantLimitsArgs),
    /// Reactivate a suspended tenant.
    Reactivate {
        #[command(flatten)]
        conn: Conn,
        /// The tenant's slug.
        slug: String,
    },
    /// Delete a tenant: its hosts answer 404 within 5 s; its data is kept for the grace period,
    /// during which `tenant restore` brings it back.
    Delete {
        #[command(flatten)]
        conn: Conn,
        /// The tenant's slug.
        slug: String,
        /// Days its data is kept (1 to 365) before it may be purged.
        #[arg(long, default_value_t = 30)]
        grace_days: u32,
    },
    /// Restore a deleted tenant within its grace period (active again, or suspended if it was).
    Restore {
        #[command(flatten)]
        conn: Conn,
        /// The tenant's slug.
        slug: String,
    },
    /// Purge a deleted tenant whose grace period has ended: its rows, its own schema, its
    /// routing entry, domains, roles and memberships (the audit log stays).
    Purge {
        #[command(flatten)]
        conn: Conn,
        /// The tenant's slug.
        #[arg(required_unless_present = "due", conflicts_with = "due")]
        slug: Option<String>,
        /// Every deleted tenant whose grace period has ended.
        #[arg(long)]
        due: bool,
    },
    /// Export everything a tenant owns (its rows, domains, roles, members, invitations and audit
    /// log) as newline-delimited JSON into a new directory, with a manifest of row counts and sha256.
    Export {
        #[command(flatten)]
        conn: Conn,
        /// The tenant's slug.
        slug: String,
        /// The directory to create (it must not exist, or be empty).
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Move a tenant's data to another placement (copy, verify, flip, delete).
    Move {
        #[command(flatten)]
        conn: Conn,
        /// The tenant's slug.
        slug: String,
        #[command(flatten)]
        placement: PlacementArgs,
        /// Seconds gateways may serve a cached routing entry (their cache bound plus a margin).
        #[arg(long, default_value_t = 6)]
        settle_secs: u64,
        /// Test only: pause at each named point of the move until the test releases it
        /// (`MoveOptions::pause`). Never set in production.
        #[arg(long, hide = true)]
        test_pause_dir: Option<PathBuf>,
    },
}

#[derive(Args)]
pub struct PlacementArgs {
    /// shared, schema or dedicated.
    #[arg(long = "placement", visible_alias = "to", default_value = "shared")]
    kind: String,
    /// The named database target (dedicated; schema in another database).
    #[arg(long)]
    database: Option<String>,
    /// The schema (schema placement; default tenant_<slug>).
    #[arg(long)]
    schema: Option<String>,
}

impl PlacementArgs {
    fn spec(&self, slug: &str) -> anyhow::Result<Placement> {
        Ok(crate::placement::parse(
            &self.kind,
            self.database.as_deref(),
            self.schema.as_deref(),
            slug,
        )?)
    }
}

#[derive(Subcommand)]
pub enum DomainCommand {
    /// Claim a custom domain for a tenant; prints the token that proves control of it.
    Add {
        #[command(flatten)]
        conn: Conn,
        /// The tenant's slug.
        slug: String,
        /// The domain, e.g. portal.acme.com.
        domain: String,
    },
    /// Look for the token (DNS TXT record at _tenantgate.<domain>, or the HTTP token) and mark the
    /// domain verified: from then on it routes to the tenant.
    Verify {
        #[command(flatten)]
        conn: Conn,
        /// The tenant's slug.
        slug: String,
        /// The domain.
        domain: String,
        /// Which proof counts: dns, http, or any (DNS first).
        #[arg(long, default_value = "any", value_parser = ["dns", "http", "any"])]
        method: String,
        /// The DNS server to ask, IP:PORT (default: the system's).
        #[arg(long)]
        dns_server: Option<SocketAddr>,
        /// The port of the HTTP check.
        #[arg(long, default_value_t = 80)]
        http_port: u16,
        /// Also fetch the HTTP token from loopback, private and link-local addresses.
        #[arg(long)]
        allow_private_addresses: bool,
        /// Seconds per DNS look-up and per HTTP fetch.
        #[arg(long, default_value_t = 10)]
        timeout_secs: u64,
    },
    /// Withdraw a tenant's claim on a domain; gateways stop routing it within their cache bound (5 s).
    Revoke {
        #[command(flatten)]
        conn: Conn,
        /// The tenant's slug.
        slug: String,
        /// The domain.
        domain: String,
    },
    /// Custom domains and their state, for every tenant or one.
    List {
        #[command(flatten)]
        conn: Conn,
        /// Only this tenant's.
        slug: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check every tenant-scoped table's isolation, by catalog and by cross-tenant reads.
    Isolation {
        #[command(flatten)]
        conn: Conn,
        /// Tenants placed elsewhere that also try to read each table.
        #[arg(long, default_value_t = 20)]
        others: usize,
    },
}

pub async fn migrate(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    let report = migrate::run(
        &args.conn.targets()?,
        &args.conn.migrations()?,
        &migrate::Options {
            tenants: args.tenants,
            dry_run: args.dry_run,
        },
    )
    .await?;
    print!("{report}");
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Applies a lifecycle change to tenant `slug` on the control plane `conn` names.
async fn change_lifecycle(conn: &Conn, slug: &str, change: Lifecycle) -> anyhow::Result<Tenant> {
    let mut control = conn.targets()?.connect(&Database::Control).await?;
    Ok(lifecycle::set_lifecycle(&mut control, slug, &change).await?)
}

pub async fn tenant(cmd: TenantCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TenantCommand::Create {
            conn,
            slug,
            name,
            plan,
            placement,
        } => {
            let t = create::create(
                &conn.targets()?,
                &conn.migrations()?,
                &NewTenant {
                    placement: placement.spec(&slug)?,
                    slug,
                    name,
                    plan,
                },
            )
            .await?;
            println!("created tenant {} ({}) in {}", t.slug, t.id, t.placement);
        }
        TenantCommand::List { conn } => {
            let control = conn.targets()?.connect(&Database::Control).await?;
            let all = tenant::list(&control).await?;
            let w = all.iter().map(|t| t.slug.len()).max().unwrap_or(4).max(4);
            println!(
                "{:w$}  {:36}  {:9}  {:10}  placement",
                "slug", "id", "status", "plan"
            );
            for t in all {
                let ro = if t.read_only {
                    " (read-only: moving)"
                } else {
                    ""
                };
                println!(
                    "{:w$}  {}  {:9}  {:10}  {}{ro}",
                    t.slug, t.id, t.status, t.plan, t.placement
                );
            }
        }
        TenantCommand::Show { conn, slug } => {
            let d = create::show(&conn.targets()?, &slug).await?;
            let t = &d.tenant;
            println!(
                "slug:      {}\nid:        {}\nname:      {}\nstatus:    {}\nplan:      {}",
                t.slug, t.id, t.name, t.status, t.plan
            );
            println!(
                "placement: {}{}",
                t.placement,
                if t.read_only {
                    " (read-only: moving)"
                } else {
                    ""
                }
            );
            if let Some(when) = &t.purge_after {
                println!("purge:     after {when} (restorable until then)");
            }
            println!("members:   {}", d.members);
            for (table, n) in &d.rows {
                println!("rows:      {table} {n}");
            }
            for (domain, verified, revoked) in &d.domains {
                let state = if *revoked {
                    "revoked"
                } else if *verified {
                    "verified"
                } else {
                    "pending"
                };
                println!("domain:    {domain} ({state})");
            }
        }
        TenantCommand::Suspend { conn, slug, reason } => {
            let t = change_lifecycle(&conn, &slug, Lifecycle::Suspend { reason }).await?;
            println!(
                "suspended tenant {} ({}): gateways refuse it with 403 tenant_suspended within 5 s; its data is kept",
                t.slug, t.id
            );
        }
        TenantCommand::Limits(args) => return super::limits::tenant_limits(args).await,
        TenantCommand::Reactivate { conn, slug } => {
            let t = change_lifecycle(&conn, &slug, Lifecycle::Reactivate).await?;
            println!(
                "reactivated tenant {} ({}): gateways serve it again within 5 s",
                t.slug, t.id
            );
        }
        TenantCommand::Delete {
            conn,
            slug,
            grace_days,
        } => {
            let t = change_lifecycle(&conn, &slug, Lifecycle::Delete { grace_days }).await?;
            println!(
                "deleted tenant {} ({}): its hosts answer 404 within 5 s; its data is kept until {}, \
                 until then `tenantgate tenant restore {}` brings it back",
                t.slug,
                t.id,
                t.purge_after.as_deref().unwrap_or("?"),
                t.slug
            );
        }
        TenantCommand::Restore { conn, slug } => {
            let t = change_lifecycle(&conn, &slug, Lifecycle::Restore).await?;
            println!(
                "restored tenant {} ({}): {} again within 5 s",
                t.slug,
                t.id,
                if t.status == "suspended" {
                    "suspended (as when it was deleted)"
                } else {
                    "served"
                }
            );
        }
        TenantCommand::Purge { conn, slug, due } => {
            let targets = conn.targets()?;
            let slugs = match slug {
                Some(slug) => vec![slug],
                None => {
                    let control = targets.connect(&Database::Control).await?;
                    purge::purge_due(&control).await?
                }
            };
            if due && slugs.is_empty() {
                println!("no deleted tenant is past its grace period");
            }
            let mut failed = false;
            for slug in slugs {
                match purge::purge(&targets, &slug).await {
                    Ok(r) => {
                        let rows = r
                            .rows
                            .iter()
                            .map(|(t, n)| format!("{t} {n}"))
                            .collect::<Vec<_>>()
                            .join(", ");
                        println!(
                            "purged tenant {} ({}) from {}: rows deleted: {}{}",
                            r.slug,
                            r.id,
                            r.placement,
                            if rows.is_empty() { "none" } else { &rows },
                            if r.schema_dropped {
                                "; its schema dropped"
                            } else {
                                ""
                            }
                        );
                    }
                    // One tenant's failure does not stop the others; it is reported, exit code 1.
                    Err(e) if due => {
                        eprintln!("error: purging tenant {slug:?}: {}", crate::report(&e));
                        failed = true;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            if failed {
                return Ok(ExitCode::FAILURE);
            }
        }
        TenantCommand::Export { conn, slug, out } => {
            let r = export::export(&conn.targets()?, &slug, &out).await?;
            println!(
                "exported tenant {} ({}) to {}",
                r.slug,
                r.id,
                r.dir.display()
            );
            for f in &r.files {
                println!("  {:28} {:>8} rows  sha256 {}", f.path, f.rows, f.sha256);
            }
        }
        TenantCommand::Move {
            conn,
            slug,
            placement,
            settle_secs,
            test_pause_dir,
        } => {
            let to = placement.spec(&slug)?;
            let r = moves::move_tenant(
                &conn.targets()?,
                &conn.migrations()?,
                &slug,
                &to,
                MoveOptions {
                    settle: Duration::from_secs(settle_secs),
                    pause: test_pause_dir,
                },
            )
            .await?;
            for (table, rows, sum) in &r.tables {
                println!("copied {table}: {rows} rows, checksum {sum}");
            }
            println!("moved {slug} from {} to {}", r.from, r.to);
            if let Some(e) = r.cleanup_error {
                eprintln!(
                    "error: the old rows in {} were not deleted (no longer routed to): {e}",
                    r.from
                );
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn domain(cmd: DomainCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DomainCommand::Add { conn, slug, domain } => {
            let added = domains::add(&conn.targets()?, &slug, &domain).await?;
            let d = &added.domain;
            if added.existing {
                println!(
                    "{} is already claimed for {}, pending verification",
                    d.domain, d.slug
                );
            } else {
                println!("claimed {} for {}, pending verification", d.domain, d.slug);
            }
            println!("token: {}", d.token);
            println!("{}", d.instructions());
        }
        DomainCommand::Verify {
            conn,
            slug,
            domain,
            method,
            dns_server,
            http_port,
            allow_private_addresses,
            timeout_secs,
        } => {
            let opts = VerifyOptions {
                method: method.parse()?,
                dns_server,
                http_port,
                allow_private_addresses,
                timeout: Duration::from_secs(timeout_secs.max(1)),
            };
            let v = domains::verify(&conn.targets()?, &slug, &domain, &opts).await?;
            match v.method {
                Some(m) => println!(
                    "verified {} for {} by {m}; it routes to {} from now on",
                    v.domain.domain, v.domain.slug, v.domain.slug
                ),
                None => println!(
                    "{} is already verified for {}",
                    v.domain.domain, v.domain.slug
                ),
            }
        }
        DomainCommand::Revoke { conn, slug, domain } => {
            let d = domains::revoke(&conn.targets()?, &slug, &domain).await?;
            println!(
                "revoked {} for {}; gateways stop routing it within their cache bound (5 s)",
                d.domain, d.slug
            );
        }
        DomainCommand::List { conn, slug } => {
            let all = domains::list(&conn.targets()?, slug.as_deref()).await?;
            let w = all.iter().map(|d| d.domain.len()).max().unwrap_or(6).max(6);
            let ws = all.iter().map(|d| d.slug.len()).max().unwrap_or(6).max(6);
            println!(
                "{:w$}  {:ws$}  {:8}  {:20}  {:20}  token",
                "domain", "tenant", "state", "claimed", "verified"
            );
            for d in all {
                println!(
                    "{:w$}  {:ws$}  {:8}  {:20}  {:20}  {}",
                    d.domain,
                    d.slug,
                    d.state.to_string(),
                    d.created_at,
                    d.verified_at.as_deref().unwrap_or("-"),
                    if d.state == domains::State::Pending {
                        d.token.as_str()
                    } else {
                        "-"
                    }
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn audit(cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    let AuditCommand::Isolation { conn, others } = cmd;
    let report = isolation::isolation(&conn.targets()?, isolation::Options { others }).await?;
    print!("{report}");
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
